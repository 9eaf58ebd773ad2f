"""Planning auto-replies for what a webhook delivery stored, in the delivery's transaction.

Each reply is an AUTO_REPLY job, so it exists exactly when the message that caused it was
stored, and is sent by the worker through the same send path as any other message.
Only messages the delivery stored for the first time are considered, so a redelivery
plans nothing; each rule's cooldown per conversation is a second, atomic guard.

A message or a call gets at most one reply: of the rules it triggers, the most specific
(call instructions, then away, then greeting; rules.MOST_SPECIFIC_FIRST). Only that
rule's cooldown is claimed, and a chosen rule in its cooldown sends nothing rather than
falling back to a less specific one: the customer has just had the better answer.

Replies are free-form texts, which WhatsApp allows only within 24 hours of the customer's
last message. A reply to a message is inside that window by construction. A call is not
a message: a customer who calls without ever having written cannot be sent instructions
(that would need an approved template), so such a call is logged and skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.autoreply import rules
from app.autoreply.repository import AutoReplyRepository
from app.config import Settings
from app.jobs import kinds
from app.jobs.repository import JobRepository
from app.models import Job
from app.outbound.exceptions import OutsideCustomerServiceWindow
from app.outbound.service import check_window

if TYPE_CHECKING:
    from app.webhook.schemas import CallsValue
    from app.webhook.service import IngestResult

logger = logging.getLogger(__name__)

# Replies planned together for one conversation (two messages of one delivery, each with
# its own reply) are due this far apart, so that workers running jobs in parallel still
# send them in order.
REPLY_SPACING = timedelta(seconds=2)


def _business_hours(settings: Settings) -> rules.BusinessHours | None:
    if not settings.away_message.strip():
        return None
    try:
        return rules.BusinessHours.from_settings(settings)
    except rules.InvalidBusinessHours as exc:
        # A bad setting must not fail the webhook (Meta would redeliver forever).
        logger.error("away message off: %s", exc)
        return None


async def _callers(
    repository: AutoReplyRepository, settings: Settings, values: list[CallsValue], now: datetime
) -> list[int]:
    """Conversations of customers who called and may be sent a free-form reply."""
    found: list[int] = []
    for value in values:
        phone_number_id = (
            value.metadata.phone_number_id if value.metadata else None
        ) or settings.whatsapp_phone_number_id
        for call in value.calls:
            if not rules.is_customer_call(call.direction):
                continue
            conversation = await repository.get_caller_conversation(
                phone_number_id, call.from_, call.from_user_id
            )
            try:
                check_window(conversation, now)
            except OutsideCustomerServiceWindow as exc:
                logger.info(
                    "call %s: no call instructions sent, %s (only a template could reach them)",
                    call.id,
                    exc.detail,
                )
                continue
            assert conversation is not None
            found.append(conversation.id)
    return found


def _message_replies(settings: Settings, result: IngestResult) -> set[tuple[int, str]]:
    """(conversation, rule) of the one reply each new message gets, if any."""
    hours = _business_hours(settings)
    due: set[tuple[int, str]] = set()
    for message in result.messages:
        if message.conversation_id is None:
            continue
        # Business hours are judged at the message's own time, not at delivery: a
        # message Meta delivers late was still written when the business was closed.
        rule = rules.most_specific(
            rules.message_rules(
                settings,
                message_type=message.message_type,
                text_body=message.text_body,
                timestamp=message.timestamp,
                first_in_conversation=message.first_in_conversation,
                hours=hours,
            )
        )
        if rule is not None:
            due.add((message.conversation_id, rule))
    return due


async def plan_replies(
    session: AsyncSession, settings: Settings, result: IngestResult, *, now: datetime
) -> list[Job]:
    """Queue the auto-replies due for a delivery's new messages and calls; return the jobs.

    `now` is the delivery's time: the cooldowns and the calls' 24-hour window are judged
    at it, and the replies are due from it. Runs in the caller's transaction. Jobs are
    queued in (conversation, rule) order, which is also the order the cooldown rows are
    locked in, so concurrent deliveries cannot deadlock.
    """
    due = _message_replies(settings, result)
    repository = AutoReplyRepository(session)
    if settings.call_instructions_message.strip() and result.calls:
        for conversation_id in await _callers(repository, settings, result.calls, now):
            due.add((conversation_id, rules.CALL_INSTRUCTIONS))
    cooldown = timedelta(seconds=settings.auto_reply_cooldown_seconds)
    jobs = JobRepository(session)
    planned: list[Job] = []
    queued_for: dict[int, int] = {}
    for conversation_id, rule in sorted(due, key=lambda d: (d[0], rules.RULE_ORDER.index(d[1]))):
        if not await repository.claim_cooldown(conversation_id, rule, now=now, cooldown=cooldown):
            logger.info("auto-reply %s to conversation %s: in cooldown", rule, conversation_id)
            continue
        position = queued_for.get(conversation_id, 0)
        queued_for[conversation_id] = position + 1
        planned.append(
            await jobs.enqueue(
                kinds.AUTO_REPLY,
                {
                    "conversation_id": conversation_id,
                    "rule": rule,
                    "text": rules.reply_text(settings, rule),
                },
                max_attempts=settings.job_max_attempts,
                run_after=now + position * REPLY_SPACING,
            )
        )
    return planned
