"""Routes of the templates domain: the list of the account's templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ApiKeyDep, ReadSessionDep
from app.errors import error_responses
from app.message_templates import service
from app.message_templates.schemas import TemplateList, TemplateListParams

router = APIRouter(tags=["templates"], dependencies=[ApiKeyDep], responses=error_responses(401))


@router.get(
    "/templates/",
    response_model=TemplateList,
    summary="List the message templates",
    responses=error_responses(422),
)
async def list_templates(
    session: ReadSessionDep, params: Annotated[TemplateListParams, Query()]
) -> TemplateList:
    """The WhatsApp Business Account's templates as last synced from Meta (by
    `whatsapp-inbox templates sync`, the periodic sync, and Meta's template webhooks),
    by name and language, each with the parameters a send must give.

    A template send (POST /api/whatsapp/messages/, `"type": "template"`) is checked
    against these before Meta is called.
    """
    templates = await service.list_templates(session, params)
    return TemplateList(count=len(templates), templates=templates)
