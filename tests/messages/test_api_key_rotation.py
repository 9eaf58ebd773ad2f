"""While keys rotate, every key listed in API_KEYS opens the API."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.support.databases import TestDatabase

OLD_KEY = "key-being-retired"
NEW_KEY = "key-rolled-out"


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    """Settings with two API keys, as during a rotation."""
    return make_settings(database.url, tmp_path, api_keys=[OLD_KEY, NEW_KEY])


@pytest.mark.parametrize("key", [OLD_KEY, NEW_KEY])
async def test_each_configured_key_is_accepted(client: httpx.AsyncClient, key: str) -> None:
    response = await client.get(
        "/api/whatsapp/messages/", headers={"Authorization": f"Bearer {key}"}
    )

    assert response.status_code == 200
    assert response.json() == {"count": 0, "messages": [], "next_cursor": None}
