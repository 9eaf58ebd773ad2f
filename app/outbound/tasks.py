"""The SEND_MESSAGE job: a send the caller asked to have queued (`"queued": true`)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from app.errors import DomainError
from app.jobs.exceptions import PermanentJobError
from app.models import Job
from app.outbound.schemas import send_request_adapter
from app.outbound.service import send_job
from app.runtime import Runtime


async def send_queued_message(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """Send the payload's request once and store it as an outbound message.

    Payload: {"request": the send request as the API received it}. The 24-hour rule is
    checked again at send time, since the window may have closed while the job waited;
    a closed window, a deleted conversation or an invalid request cannot be fixed by a
    retry, so the job goes dead with the reason. Meta's errors are retried when Meta
    says a retry can help.
    """
    payload = job.payload if isinstance(job.payload, dict) else {}
    try:
        request = send_request_adapter.validate_python(payload.get("request"))
    except ValidationError as exc:
        raise PermanentJobError(
            f"send job with an invalid request ({exc.error_count()} errors)"
        ) from exc
    try:
        return await send_job(runtime, request, job, now=runtime.clock())
    except DomainError as exc:
        raise PermanentJobError(f"{exc.error}: {exc.detail}") from exc
