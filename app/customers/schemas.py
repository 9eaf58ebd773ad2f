"""What an erasure reports."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErasureReport(BaseModel):
    """How many rows and files of each kind were removed for the number."""

    phone_number: str = Field(description="The number, as Meta writes it (digits only).")
    conversations: int
    messages: int
    statuses: int
    webhook_events: int = Field(
        description="Raw events that named the number (whole deliveries, as received)."
    )
    media_files: int
    jobs: int
    auto_reply_records: int
    idempotency_keys: int = Field(description="Remembered answers to sends to the number.")
