"""The send route: POST /api/whatsapp/messages/."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header
from fastapi.responses import JSONResponse

from app.deps import ApiKeyDep, NowDep, RuntimeDep
from app.errors import ErrorBody, error_responses
from app.jobs.schemas import JobOut
from app.messages.schemas import MessageOut
from app.outbound import service
from app.outbound.schemas import SendRequest

router = APIRouter(tags=["messages"], dependencies=[ApiKeyDep], responses=error_responses(401))

# The stored key is namespaced (`api:` + key) in a 255-character column.
MAX_IDEMPOTENCY_KEY = 200

_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses(404, 422),
    409: {
        "model": ErrorBody,
        "description": "`outside_customer_service_window`: the customer last wrote more than "
        "24 hours ago, so only a template may be sent; or `idempotency_key_in_progress`; "
        "or Meta's own 131047",
    },
    429: {"model": ErrorBody, "description": "Meta's rate limits; `meta.retryable` is true"},
    502: {"model": ErrorBody, "description": "Meta failed; `meta` holds its code and message"},
    504: {"model": ErrorBody, "description": "Meta did not answer in time"},
}

_EXAMPLES: dict[str, Any] = {
    "text": {
        "summary": "Text",
        "value": {"type": "text", "to": "+91 98765 43210", "body": "Your order has shipped."},
    },
    "template": {
        "summary": "Template (allowed outside the 24-hour window)",
        "value": {
            "type": "template",
            "to": "919876543210",
            "name": "order_update",
            "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "1182"}]}],
        },
    },
    "image": {
        "summary": "Image by media id, as a reply",
        "value": {
            "type": "image",
            "conversation_id": 87,
            "id": "1013859600285441",
            "caption": "Your invoice",
            "reply_to": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgU",
        },
    },
    "buttons": {
        "summary": "Reply buttons, queued",
        "value": {
            "type": "interactive",
            "conversation_id": 87,
            "queued": True,
            "interactive": {
                "type": "button",
                "body": "Was your problem solved?",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}],
            },
        },
    },
}


@router.post(
    "/messages/",
    status_code=201,
    response_model=MessageOut,
    summary="Send a message",
    responses={202: {"model": JobOut, "description": "Queued: the send job"}, **_ERRORS},
)
async def send_message(
    runtime: RuntimeDep,
    now: NowDep,
    message: Annotated[SendRequest, Body(openapi_examples=_EXAMPLES)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_IDEMPOTENCY_KEY,
            description="Any unique string; a retry with the same key and body gets the "
            "first answer, and the message is sent once.",
        ),
    ] = None,
) -> JSONResponse:
    """Send a message to a customer: Meta is called at once, and the answer is 201 with the
    stored outbound message (status `accepted`, then moved on by Meta's status webhooks).

    With `"queued": true` the send is a background job instead: the answer is 202 with the
    job (see GET /api/whatsapp/jobs/), and the job's result names the stored message.

    Anything but a template needs the customer to have written in the last 24 hours,
    else 409 `outside_customer_service_window`. Meta's refusals come back as 4xx (422,
    409, 429) and its failures as 502/504, each with Meta's code and message under `meta`.
    A replayed answer (same Idempotency-Key) carries the header `Idempotent-Replayed: true`.
    """
    outcome = await service.send(runtime, message, now=now, idempotency_key=idempotency_key)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)
