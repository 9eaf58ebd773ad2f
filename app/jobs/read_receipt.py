"""The READ_RECEIPT job: tell Meta that a customer's message was read (blue ticks)."""

from __future__ import annotations

from typing import Any

from app.jobs.exceptions import PermanentJobError
from app.models import Job
from app.runtime import Runtime


async def send_read_receipt(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """Mark the payload's message read at Meta.

    Payload: {"message_id": wamid, "phone_number_id": the business number it came to}.
    Marking read twice is harmless at Meta, so a rerun after a crash needs no guard.
    """
    payload = job.payload if isinstance(job.payload, dict) else {}
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise PermanentJobError("read receipt job without a message_id")
    phone_number_id = payload.get("phone_number_id") or runtime.settings.whatsapp_phone_number_id
    if not isinstance(phone_number_id, str) or not phone_number_id:
        raise PermanentJobError("read receipt job without a phone_number_id")
    answer = await runtime.graph.mark_read(phone_number_id, message_id)
    return {"success": bool(answer.get("success", True))}
