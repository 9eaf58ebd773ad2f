"""The periodic template sync: one job at a time, each scheduling the next.

A worker schedules the first sync when it starts; each sync schedules the next one
TEMPLATE_SYNC_INTERVAL_SECONDS later, also when Meta fails it (the next run is its
retry), so the chain never breaks and never doubles: a sync is only scheduled when no
other one is pending.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.jobs import kinds
from app.jobs.exceptions import PermanentJobError
from app.jobs.repository import JobRepository
from app.message_templates.exceptions import TemplatesNotConfigured
from app.message_templates.service import sync_templates
from app.models import Job
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime

logger = logging.getLogger(__name__)


async def schedule_sync(
    session: AsyncSession, settings: Settings, *, run_after: datetime, after_job: int | None = None
) -> None:
    """Queue a template sync at `run_after` unless one (other than `after_job`) is
    pending, or no business account is configured."""
    if not settings.whatsapp_business_account_id:
        return
    jobs = JobRepository(session)
    if await jobs.has_pending(kinds.TEMPLATE_SYNC, except_id=after_job):
        return
    await jobs.enqueue(
        kinds.TEMPLATE_SYNC, {}, max_attempts=settings.job_max_attempts, run_after=run_after
    )


async def schedule_first_sync(session: AsyncSession, settings: Settings, now: datetime) -> None:
    """At a worker's start: a sync now, unless one is already pending."""
    await schedule_sync(session, settings, run_after=now)


def _next_at(settings: Settings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.template_sync_interval_seconds)


async def sync_job(runtime: Runtime, job: Job) -> dict[str, Any]:
    """Sync the templates from Meta, then schedule the next sync (also after a failure)."""
    now = runtime.clock()
    outcome: dict[str, Any]
    try:
        result = await sync_templates(runtime, now=now)
    except TemplatesNotConfigured as exc:
        raise PermanentJobError(exc.detail) from exc
    except GraphAPIError as exc:
        logger.warning("template sync failed, next try in the next run: %s", exc)
        outcome = {"error": str(exc)}
    else:
        outcome = {"templates": result.templates, "pages": result.pages}
    async with runtime.sessions.begin() as session:
        await schedule_sync(
            session, runtime.settings, run_after=_next_at(runtime.settings, now), after_job=job.id
        )
    return outcome
