"""A business with two numbers (support and sales), whose sends reach the fake Graph API."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from tests.conftest import PHONE_NUMBER_ID, make_settings
from tests.support.databases import TestDatabase
from tests.support.fake_graph import FakeGraph

SUPPORT = PHONE_NUMBER_ID
SALES = "106540352242933"
SALES_TOKEN = "sales-access-token"
NUMBERS = [
    {"id": SUPPORT, "display": "+1 555 000 1111", "label": "support"},
    {"id": SALES, "display": "+1 555 000 2222", "label": "sales", "access_token": SALES_TOKEN},
]


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path, fake_graph: FakeGraph) -> Settings:
    """Two business numbers configured as a list, talking to the fake Graph API."""
    fake_graph.number_token(SALES, SALES_TOKEN)
    return make_settings(
        database.url,
        tmp_path,
        whatsapp_phone_number_id="",
        whatsapp_phone_numbers=NUMBERS,
        graph_api_base_url=fake_graph.base_url,
    )
