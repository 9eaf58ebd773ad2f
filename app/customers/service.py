"""Erasure: everything stored about a customer, removed for a data-protection request.

Conversations, messages (in and out), statuses, raw events that name the number, media
files, jobs, auto-reply records and remembered send answers. A raw event is removed whole
even when it also carried other customers' items: those items are stored in their own
rows, and the event log keeps bodies byte for byte, so it cannot keep a body without
the number. Files are deleted before the rows that point to them, so a run that fails
halfway leaves rows that a second run finds again; running it twice removes nothing
more.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.customers.exceptions import InvalidCustomerNumber
from app.customers.repository import CustomerDataRepository
from app.customers.schemas import ErasureReport
from app.media.storage import MediaStorage
from app.phone import InvalidPhoneNumber, normalize_phone_number


def customer_number(text: str) -> str:
    """The number as Meta writes it, or InvalidCustomerNumber saying what is wrong."""
    try:
        return normalize_phone_number(text)
    except InvalidPhoneNumber as exc:
        raise InvalidCustomerNumber(f"phone: {exc}") from None


async def erase_customer(
    session: AsyncSession, storage: MediaStorage, phone_number: str
) -> ErasureReport:
    """Remove everything about `phone_number` in the caller's transaction (which commits)."""
    number = customer_number(phone_number)
    repository = CustomerDataRepository(session)
    rows = await repository.find(number)
    for key in rows.media_keys:
        await storage.delete(key)
    statuses = await repository.delete_statuses(number, rows.wamids)
    jobs = await repository.delete_jobs(number, rows.wamids, rows.conversation_ids)
    events = await repository.delete_events(number)
    keys = await repository.delete_idempotency_keys(number)
    messages, replies, conversations = await repository.delete_conversations(rows)
    return ErasureReport(
        phone_number=number,
        conversations=conversations,
        messages=messages,
        statuses=statuses,
        webhook_events=events,
        media_files=len(rows.media_keys),
        jobs=jobs,
        auto_reply_records=replies,
        idempotency_keys=keys,
    )
