"""The periodic retention job: the worker enqueues one every RETENTION_INTERVAL_SECONDS."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from app.models import Job
from app.retention.service import apply_retention
from app.runtime import Runtime

logger = logging.getLogger(__name__)


async def apply_retention_job(runtime: Runtime, _job: Job) -> dict[str, Any]:
    """Apply the retention settings now; the job's result says how much was removed.

    Deleting what is already gone deletes nothing, so a rerun is harmless.
    """
    result = await apply_retention(runtime, now=runtime.clock())
    if result.events or result.jobs or result.media_files:
        logger.info(
            "retention removed %d raw events, %d finished jobs and %d media files",
            result.events,
            result.jobs,
            result.media_files,
        )
    return dataclasses.asdict(result)
