"""The AUTO_REPLY job: send one planned auto-reply and store it as an outbound message."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from app.errors import DomainError
from app.jobs.exceptions import PermanentJobError
from app.models import Job
from app.outbound.exceptions import OutsideCustomerServiceWindow
from app.outbound.schemas import TextMessage
from app.outbound.service import send_job
from app.runtime import Runtime

logger = logging.getLogger(__name__)


async def send_auto_reply(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """Send the payload's text to its conversation, at most once per job.

    Payload: {"conversation_id", "rule", "text"}. If the 24-hour window has closed by
    the time the job runs (it waited out a long outage), the reply is skipped with the
    reason in the log and in the job's result: only a template could reach the customer.
    """
    payload = job.payload if isinstance(job.payload, dict) else {}
    rule = payload.get("rule")
    try:
        request = TextMessage(
            type="text", conversation_id=payload.get("conversation_id"), body=payload.get("text")
        )
    except ValidationError as exc:
        raise PermanentJobError(
            f"auto-reply job with an invalid payload ({exc.error_count()} errors)"
        ) from exc
    try:
        result = await send_job(runtime, request, job, now=runtime.clock())
    except OutsideCustomerServiceWindow as exc:
        logger.info(
            "auto-reply %s to conversation %s skipped: %s",
            rule,
            request.conversation_id,
            exc.detail,
        )
        return {"rule": rule, "skipped": exc.detail}
    except DomainError as exc:
        raise PermanentJobError(f"{exc.error}: {exc.detail}") from exc
    return {"rule": rule, **result}
