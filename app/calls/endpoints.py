"""Routes of the calls domain: the list of calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.calls import service
from app.calls.schemas import CallList, CallListParams
from app.deps import ApiKeyDep, ReadSessionDep
from app.errors import error_responses
from app.responses import page_response

router = APIRouter(tags=["calls"], dependencies=[ApiKeyDep], responses=error_responses(401))


@router.get(
    "/calls/",
    response_model=CallList,
    summary="List calls, newest first",
    responses=error_responses(422),
)
async def list_calls(
    session: ReadSessionDep, params: Annotated[CallListParams, Query()]
) -> Response:
    """Calls with customers (each call once, however many events Meta sent for it),
    newest first. Pages are keyset-paginated like the messages list."""
    page = await service.list_calls(session, params)
    return page_response("calls", page.items, page.next_cursor)
