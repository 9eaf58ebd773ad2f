"""The metrics each process counts, and how they are read out with several processes.

With several web processes (`serve --workers N`), `serve` points PROMETHEUS_MULTIPROC_DIR
at an empty directory before they start: each process then writes its counters to files
there (prometheus-client's multiprocess mode), and whichever process answers /metrics
adds up all of them. The counting stays cheap: one increment per delivery, never one per
item.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.metrics import MULTIPROC_ENV

if TYPE_CHECKING:
    from app.outbound.graph import GraphAPIError

WEBHOOK_DELIVERIES = Counter(
    "whatsapp_webhook_deliveries",
    "Webhook POSTs answered, by outcome (stored, refused, forbidden, too_large, unavailable).",
    ["outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "whatsapp_webhook_duration_seconds",
    "Time from a webhook POST's arrival to its answer.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
NEW_MESSAGES = Counter(
    "whatsapp_webhook_new_messages", "Messages the webhook stored for the first time."
)
NEW_STATUSES = Counter(
    "whatsapp_webhook_new_statuses", "Statuses the webhook stored for the first time."
)
ITEMS_REJECTED = Counter(
    "whatsapp_webhook_items_rejected",
    "Messages, statuses and calls of signed deliveries that could not be stored.",
)
GRAPH_CALLS = Counter(
    "whatsapp_graph_api_calls",
    "Graph API calls by endpoint and result: ok, Meta's error code, or the failure.",
    ["endpoint", "result"],
)

# The webhook's answers by HTTP status; anything else is "other".
_OUTCOMES = {
    200: "stored",
    400: "refused",
    403: "forbidden",
    413: "too_large",
    503: "unavailable",
}


@cache
def _deliveries(outcome: str) -> Counter:
    # Each outcome's child is looked up once: labels() validates and locks every time.
    return WEBHOOK_DELIVERIES.labels(outcome)


def webhook_answered(status: int, seconds: float) -> None:
    """Count a webhook POST's answer and its latency."""
    _deliveries(_OUTCOMES.get(status, "other")).inc()
    WEBHOOK_SECONDS.observe(seconds)


def delivery_stored(new_messages: int, new_statuses: int, rejected: int) -> None:
    """Count what one stored delivery added (at most three increments, whatever its
    size). With several processes each increment is a write to a shared file, so
    counters a delivery leaves as they are are not written."""
    for counter, amount in (
        (NEW_MESSAGES, new_messages),
        (NEW_STATUSES, new_statuses),
        (ITEMS_REJECTED, rejected),
    ):
        if amount:
            counter.inc(amount)


def graph_called(endpoint: str, error: GraphAPIError | None) -> None:
    """Count a Graph API call: `ok`, Meta's error code, `http_<status>`, or `failed`."""
    if error is None:
        result = "ok"
    elif error.code is not None:
        result = str(error.code)
    elif error.http_status is not None:
        result = f"http_{error.http_status}"
    else:
        result = "failed"
    GRAPH_CALLS.labels(endpoint, result).inc()


def process_metrics() -> bytes:
    """The counters in Prometheus' text format: every process's when several share them."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
