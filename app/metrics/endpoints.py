"""GET /metrics: Prometheus' text format, for an API key or the METRICS_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.deps import NowDep, ReadSessionDep, SettingsDep, bearer, matches_a_key
from app.errors import Unauthorized, error_responses
from app.metrics.registry import process_metrics
from app.metrics.repository import MetricsRepository, StoredTotals


async def require_metrics_access(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the scrape through with an API key or the METRICS_TOKEN."""
    if credentials is None:
        raise Unauthorized(
            "missing token: send Authorization: Bearer <METRICS_TOKEN or an API key>"
        )
    if not matches_a_key(credentials.credentials, [*settings.api_keys, settings.metrics_token]):
        raise Unauthorized("invalid metrics token")


router = APIRouter(
    tags=["metrics"],
    dependencies=[Depends(require_metrics_access)],
    responses=error_responses(401),
)


class _Totals(Collector):
    """The database's totals as gauges, read once per scrape."""

    def __init__(self, totals: StoredTotals) -> None:
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        totals = self.totals
        messages = GaugeMetricFamily(
            "whatsapp_messages_stored",
            "Messages in the database, by direction and type.",
            labels=["direction", "type"],
        )
        for direction, type_, count in totals.messages:
            messages.add_metric([direction, type_], count)
        statuses = GaugeMetricFamily(
            "whatsapp_statuses_stored",
            "Status updates in the database, by status.",
            labels=["status"],
        )
        for status, count in totals.statuses:
            statuses.add_metric([status], count)
        jobs = GaugeMetricFamily(
            "whatsapp_jobs", "Background jobs, by kind and state.", labels=["kind", "state"]
        )
        for kind, state, count in totals.jobs:
            jobs.add_metric([kind, state], count)
        yield messages
        yield statuses
        yield jobs
        yield GaugeMetricFamily(
            "whatsapp_jobs_oldest_due_age_seconds",
            "How long the oldest queued job has been due (0 when none is waiting).",
            value=totals.oldest_due_job_age_seconds,
        )
        yield GaugeMetricFamily(
            "whatsapp_media_stored_bytes", "Bytes of media files stored.", value=totals.media_bytes
        )
        yield GaugeMetricFamily(
            "whatsapp_media_stored_files", "Media files stored.", value=totals.media_files
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(session: ReadSessionDep, now: NowDep) -> Response:
    """Counters of every web process (webhook outcomes and latency, Graph API calls) and
    gauges read from the database (messages, statuses and jobs stored, the oldest due
    job, media bytes). Send `Authorization: Bearer <METRICS_TOKEN or an API key>`."""
    totals = await MetricsRepository(session).totals(now=now)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Totals(totals))
    return Response(process_metrics() + generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
