"""Replay: stored raw events run through ingestion again.

A parser fix recovers what an older version rejected: each event's body is read by
today's code and stored the way a delivery is, by the same idempotent writes (a message
once per wamid, a status once per (wamid, status), counters only for what is new), so
replaying changes nothing already stored. The event's outcome (what it stored and
rejected) becomes the new reading's. Automatic replies are not planned: a replayed
message may be days old, far past the moment a greeting or away message fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.events.exceptions import EventNotFound
from app.events.repository import EventRepository
from app.runtime import Runtime
from app.webhook import service


@dataclass(frozen=True)
class Replayed:
    """What replaying one event stored anew, and what it still cannot store."""

    event_id: int
    new_messages: int
    new_statuses: int
    rejected_items: int
    refused: bool


@dataclass
class ReplayReport:
    """The sum of a replay of many events."""

    events: int = 0
    new_messages: int = 0
    new_statuses: int = 0
    still_rejected: int = 0

    def add(self, replayed: Replayed) -> None:
        """Count one replayed event in."""
        self.events += 1
        self.new_messages += replayed.new_messages
        self.new_statuses += replayed.new_statuses
        self.still_rejected += int(replayed.rejected_items > 0 or replayed.refused)


async def replay_event(runtime: Runtime, event_id: int) -> Replayed:
    """Run one stored event through ingestion again, in a transaction of its own."""
    async with runtime.sessions() as session:
        events = EventRepository(session)
        event = await events.get_by_id(event_id)
        if event is None:
            raise EventNotFound(f"no webhook event with id {event_id}", event_id=event_id)
        # Read as at its arrival, so that values defaulted from that moment come out the same.
        delivery = await service.read(
            runtime.body_reader, runtime.settings, event.raw_body, now=event.received_at
        )
        (outcome,) = await service.store_items(
            session, runtime.settings, [delivery], [event_id], auto_reply=False
        )
        await events.record_outcome(event_id, service.event_row(delivery))
        await session.commit()
    runtime.outage.succeeded()
    if isinstance(outcome, service.Refused):
        return Replayed(event_id, 0, 0, 1, refused=True)
    return Replayed(
        event_id,
        new_messages=len(outcome.messages),
        new_statuses=outcome.new_statuses,
        rejected_items=len(outcome.rejections),
        refused=False,
    )


async def replay_received(
    runtime: Runtime, *, since: datetime, until: datetime | None, rejected_only: bool
) -> ReplayReport:
    """Replay every event received in [since, until) (only those with rejected items
    when `rejected_only`), oldest first, each in its own transaction."""
    async with runtime.reads() as session:
        ids = await EventRepository(session).ids_received(
            since=since, until=until, rejected_only=rejected_only
        )
    report = ReplayReport()
    for event_id in ids:
        report.add(await replay_event(runtime, event_id))
    return report
