"""Mark-read with SEND_READ_RECEIPTS off: counters move, no read-receipt job is written."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Job
from app.runtime import Runtime
from tests.conftest import make_settings
from tests.messages.store import at, store_message
from tests.support.databases import TestDatabase


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """Settings with read receipts switched off."""
    return make_settings(database.url, tmp_path, send_read_receipts=False)


async def test_no_read_receipt_job_is_written_when_receipts_are_off(
    api: httpx.AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    conversation_id = await store_message(runtime, "wamid.one", timestamp=at(0))

    response = await api.post("/api/whatsapp/mark-read/", json={"conversation_id": conversation_id})

    assert response.json() == {"marked": 1, "conversations": [conversation_id]}
    assert await session.scalar(select(func.count()).select_from(Job)) == 0
