"""DELETE /customers/{phone}: erase a customer, for data-protection requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.customers.schemas import ErasureReport
from app.customers.service import erase_customer
from app.deps import ApiKeyDep, RuntimeDep, SessionDep
from app.errors import error_responses

router = APIRouter(
    prefix="/customers",
    tags=["customers"],
    dependencies=[ApiKeyDep],
    responses=error_responses(401),
)


@router.delete(
    "/{phone}",
    response_model=ErasureReport,
    summary="Erase everything stored about a customer",
    responses=error_responses(422),
)
async def erase(
    session: SessionDep,
    runtime: RuntimeDep,
    phone: Annotated[
        str,
        Path(max_length=64, description="The customer's number, in any format (+91 98765 43210)."),
    ],
) -> ErasureReport:
    """Remove the customer's conversations, messages, statuses, raw events, media files,
    jobs and remembered send answers, and say how many of each were removed. Running it
    again removes nothing more (and answers zeros)."""
    return await erase_customer(session, runtime.storage, phone)
