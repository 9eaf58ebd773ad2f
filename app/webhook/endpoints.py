"""Routes of the webhook: Meta's subscription handshake and its deliveries."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from app.deps import SettingsDep
from app.errors import error_response
from app.gc_pause import gc_paused
from app.metrics.registry import delivery_stored
from app.runtime import Runtime
from app.webhook import service
from app.webhook.group_commit import GroupCommit
from app.webhook.reader import IN_PLACE_BYTES
from app.webhook.schemas import WebhookAck
from app.webhook.signature import subscription_challenge, verified_body

router = APIRouter(tags=["webhook"])


_ERROR = {"description": 'JSON error: `{"error", "detail"}`'}

# The body is read raw (its signature covers the exact bytes), so it is documented here.
_EXAMPLE_DELIVERY = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "John Doe"}, "wa_id": "919876543210"}],
                        "messages": [
                            {
                                "from": "919876543210",
                                "id": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0E0QTY1OTlBRUUw",
                                "timestamp": "1705314600",
                                "type": "text",
                                "text": {"body": "Hi, I need help with my order"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
_DELIVERY_OPENAPI = {
    "parameters": [
        {
            "name": "X-Hub-Signature-256",
            "in": "header",
            "required": True,
            "description": "`sha256=` + HMAC-SHA256 (hex) of the exact body under the app secret.",
            "schema": {"type": "string"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}, "example": _EXAMPLE_DELIVERY}
        },
    },
}


@router.get(
    "/webhook/",
    response_class=PlainTextResponse,
    summary="Meta's subscription handshake",
    responses={200: {"content": {"text/plain": {"example": "1158201444"}}}, 403: _ERROR},
)
@router.get("/webhook", response_class=PlainTextResponse, include_in_schema=False)
async def verify_subscription(
    settings: SettingsDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Echo `hub.challenge` when `hub.mode=subscribe` and `hub.verify_token` is
    WHATSAPP_VERIFY_TOKEN; anything else is refused with 403."""
    return PlainTextResponse(subscription_challenge(settings, mode, token, challenge))


@router.post(
    "/webhook/",
    response_model=WebhookAck,
    summary="Receive messages and statuses from Meta",
    openapi_extra=_DELIVERY_OPENAPI,
    responses={
        400: {"description": "Malformed JSON, or not a WhatsApp webhook (the body is logged)"},
        403: {"description": "X-Hub-Signature-256 missing or wrong"},
        413: {"description": "Body over MAX_BODY_BYTES"},
        503: {"description": "The database failed; nothing was stored and Meta will retry"},
    },
)
@router.post("/webhook", response_model=WebhookAck, include_in_schema=False)
async def receive_webhook(request: Request) -> Response:
    """Store a delivery signed by Meta (X-Hub-Signature-256 over the exact body).

    The body is kept in the event log whatever it holds. Every valid message, status
    and call is stored, each message once per wamid and each status once per (wamid,
    status); an item that cannot be stored is recorded on the event with its JSON path
    and the reason. 200 means it is committed, and says how many items were stored and
    rejected. A body that is not a WhatsApp webhook is logged too, and answered 400.
    """
    # The busiest route takes no dependencies and builds its answer itself: resolving
    # dependencies and validating the return value cost more than storing a delivery.
    runtime: Runtime = request.app.state.runtime
    ingest: GroupCommit = request.app.state.ingest
    body = await verified_body(request, runtime.settings)
    with gc_paused() if len(body) > IN_PLACE_BYTES else nullcontext():
        return await _store(runtime, ingest, body)


async def _store(runtime: Runtime, ingest: GroupCommit, body: bytes) -> Response:
    """Store a signed body and answer it. Its rows are no longer referenced once this
    returns, so the collector, when it resumes, has none of them to scan."""
    delivery = await service.read(runtime.body_reader, runtime.settings, body, now=runtime.clock())
    outcome = await ingest.submit(delivery)
    if isinstance(outcome, service.Refused):
        return error_response(400, {**outcome.error.body(), "event_id": outcome.event_id})
    delivery_stored(len(outcome.messages), outcome.new_statuses, len(outcome.rejections))
    return Response(WebhookAck.of(outcome).model_dump_json(), media_type="application/json")
