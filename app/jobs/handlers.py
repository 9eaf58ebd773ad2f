"""The registries of job handlers (one entry per job kind, app.jobs.kinds) and of the
hooks that run when a job of a kind goes dead.

A handler is::

    async def handler(runtime: Runtime, job: Job) -> dict[str, Any] | None

Its return value is stored in `job.result`. A job can run more than once (a worker may
die after the work but before recording it, and another worker then reclaims the job),
so a handler:

- does its network I/O outside any open database transaction (open a session from
  `runtime.sessions` only around its reads and writes, never across a Graph call);
- makes its writes idempotent (unique keys, conditional UPDATEs), so a rerun changes
  nothing that the first run already did;
- raises `app.outbound.graph.GraphAPIError` when Meta fails (retried when `.retryable`,
  after `.retry_after` seconds when Meta asks for a pause), or
  `app.jobs.exceptions.PermanentJobError` for a failure no retry can fix (the job goes
  dead at once), or `app.jobs.exceptions.RetryableJobError` for an expected failure worth
  retrying (logged without a traceback). Any other exception counts as retryable.

Messages of these exceptions become the job's `last_error`: never put secrets in them.
A job whose kind has no entry here goes dead with an error saying so.

A dead hook (optional, in ON_DEAD) is::

    async def on_dead(session: AsyncSession, job: Job, error: str) -> None

It runs in the transaction that marks a job of its kind dead, whichever way it died (a
permanent error, the last attempt failing, or its worker dying during the last attempt,
`error` being the job's last_error), so the domain records the failure atomically with
the job's death. A handler therefore never records its own final failure: it raises,
and the hook records it, even when no handler ran at all. A hook:

- writes only through `session` and never commits it (the worker does);
- reads only the job's id, kind and payload (the rest may be as it was when claimed);
- makes its writes conditional (never overwrite what a successful run recorded); a
  hook that raises is logged and its writes are rolled back, the job stays dead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.autoreply.tasks import send_auto_reply
from app.config import Settings
from app.jobs import kinds
from app.jobs.read_receipt import send_read_receipt
from app.media.tasks import download_media, record_media_failure
from app.message_templates.tasks import sync_job
from app.models import Job
from app.outbound.tasks import send_queued_message
from app.retention.tasks import apply_retention_job
from app.runtime import Runtime
from app.subscriptions.tasks import deliver_event, record_dead_delivery

JobHandler = Callable[[Runtime, Job], Awaitable[dict[str, Any] | None]]

HANDLERS: Mapping[str, JobHandler] = {
    kinds.READ_RECEIPT: send_read_receipt,
    kinds.MEDIA_DOWNLOAD: download_media,
    kinds.SEND_MESSAGE: send_queued_message,
    kinds.AUTO_REPLY: send_auto_reply,
    kinds.RETENTION: apply_retention_job,
    kinds.TEMPLATE_SYNC: sync_job,
    kinds.SUBSCRIPTION_DELIVERY: deliver_event,
}

DeadHook = Callable[[AsyncSession, Job, str], Awaitable[None]]

ON_DEAD: Mapping[str, DeadHook] = {
    kinds.MEDIA_DOWNLOAD: record_media_failure,
    kinds.SUBSCRIPTION_DELIVERY: record_dead_delivery,
}


def schedules(settings: Settings) -> Mapping[str, float]:
    """Kinds of job that the worker enqueues itself, each every so many seconds."""
    keeps = (
        settings.retention_raw_events_days,
        settings.retention_finished_jobs_days,
        settings.retention_media_days,
    )
    periodic: dict[str, float] = {}
    if any(keeps):
        periodic[kinds.RETENTION] = settings.retention_interval_seconds
    if settings.whatsapp_business_account_id:
        periodic[kinds.TEMPLATE_SYNC] = settings.template_sync_interval_seconds
    return periodic
