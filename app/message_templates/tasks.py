"""The periodic template sync: the worker enqueues one every TEMPLATE_SYNC_INTERVAL_SECONDS
while WHATSAPP_BUSINESS_ACCOUNT_ID is set (app.jobs.handlers.schedules)."""

from __future__ import annotations

from typing import Any

from app.jobs.exceptions import PermanentJobError
from app.message_templates.exceptions import TemplatesNotConfigured
from app.message_templates.service import sync_templates
from app.models import Job
from app.runtime import Runtime


async def sync_job(runtime: Runtime, _job: Job) -> dict[str, Any]:
    """Sync the templates from Meta; the job's result says how many, over how many pages.

    Meta's failures are retried as any job's; a sync stores all pages or nothing, so a
    rerun is harmless.
    """
    try:
        result = await sync_templates(runtime, now=runtime.clock())
    except TemplatesNotConfigured as exc:
        raise PermanentJobError(exc.detail) from exc
    return {"templates": result.templates, "pages": result.pages}
