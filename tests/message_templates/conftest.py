"""A business account with templates at the fake Graph API, and a service synced with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.message_templates.service import sync_templates
from app.runtime import Runtime
from tests.conftest import make_settings
from tests.support.databases import TestDatabase
from tests.support.fake_graph import FakeGraph

WABA = "102290129340398"
ORDER_UPDATE: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
    {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships on {{3}}."},
    {"type": "FOOTER", "text": "Reply STOP to opt out"},
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Track", "url": "https://shop.example/track/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Stop"},
        ],
    },
]
WELCOME: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "IMAGE"},
    {"type": "BODY", "text": "Welcome, {{first_name}}!"},
]


def order_update_components(*body: str, header: str = "A-1", track: str = "A-1") -> list[Any]:
    """A send's components filling order_update: header, body and the URL button."""
    return [
        {"type": "header", "parameters": [{"type": "text", "text": header}]},
        {"type": "body", "parameters": [{"type": "text", "text": text} for text in body]},
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": track}],
        },
    ]


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path, fake_graph: FakeGraph) -> Settings:
    """The suite's settings with a business account, talking to the fake Graph API."""
    return make_settings(
        database.url,
        tmp_path,
        whatsapp_business_account_id=WABA,
        graph_api_base_url=fake_graph.base_url,
    )


@pytest.fixture
async def synced(runtime: Runtime, fake_graph: FakeGraph) -> FakeGraph:
    """The account's templates at Meta (order_update in two languages, a paused one, a
    named-parameter one with an image header), synced into the service."""
    fake_graph.add_template(WABA, "order_update", components=ORDER_UPDATE)
    fake_graph.add_template(WABA, "order_update", language="de", components=ORDER_UPDATE)
    fake_graph.add_template(WABA, "spring_sale", status="PAUSED", category="MARKETING")
    fake_graph.add_template(WABA, "welcome", components=WELCOME)
    await sync_templates(runtime, now=runtime.clock())
    return fake_graph
