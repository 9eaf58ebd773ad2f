"""The thread's template picker: offered when the 24-hour window is closed, it sends an
approved template with its parameters, and the thread shows the text the customer got."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.message_templates.service import sync_templates
from app.models import Conversation
from app.runtime import Runtime
from tests.admin.conftest import ADMIN_USERNAME
from tests.conftest import make_settings
from tests.message_templates.conftest import ORDER_UPDATE, WABA
from tests.support import payloads as p
from tests.support.clock import FixedClock
from tests.support.databases import TestDatabase
from tests.support.fake_graph import SEND, FakeGraph

CUSTOMER = "491701234567"


@pytest.fixture
def settings(
    database: TestDatabase, tmp_path: Path, admin_password_hash: str, fake_graph: FakeGraph
) -> Settings:
    """The admin login and a business account at the fake Graph API."""
    return make_settings(
        database.url,
        tmp_path,
        admin_username=ADMIN_USERNAME,
        admin_password_hash=admin_password_hash,
        whatsapp_business_account_id=WABA,
        graph_api_base_url=fake_graph.base_url,
    )


@pytest.fixture
async def thread_url(
    client: httpx.AsyncClient, runtime: Runtime, fake_graph: FakeGraph, clock: FixedClock
) -> str:
    """The thread of a customer who last wrote two days ago, with templates synced."""
    fake_graph.add_template(WABA, "order_update", components=ORDER_UPDATE)
    fake_graph.add_template(WABA, "spring_sale", status="PAUSED")
    await sync_templates(runtime, now=clock.now)
    message = p.text_message("hello", from_=CUSTOMER, timestamp=clock.now - timedelta(days=2))
    await p.deliver(client, p.inbound(message))
    async with runtime.sessions() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
    return f"/admin/conversation/thread/{conversation.id}"


async def test_a_closed_window_offers_the_approved_templates(
    admin: httpx.AsyncClient, thread_url: str
) -> None:
    page = await admin.get(thread_url)

    assert 'id="template-form"' in page.text
    assert '<option value="order_update|en_US"' in page.text
    assert "spring_sale" not in page.text


async def test_a_chosen_template_is_sent_and_shown_with_its_text(
    admin: httpx.AsyncClient, thread_url: str, fake_graph: FakeGraph
) -> None:
    values = ["A-7", "Ana", "A-7", "Friday", "A-7"]

    answer = await admin.post(
        f"{thread_url}/template", data={"template": "order_update|en_US", "param": values}
    )

    assert answer.status_code == 303
    (sent,) = fake_graph.sent_messages()
    assert sent["template"]["name"] == "order_update"
    assert sent["template"]["components"][1] == {
        "type": "body",
        "parameters": [{"type": "text", "text": v} for v in ("Ana", "A-7", "Friday")],
    }
    page = await admin.get(thread_url)
    assert "Hi Ana, your order A-7 ships on Friday." in page.text


async def test_a_template_with_an_empty_parameter_is_not_sent(
    admin: httpx.AsyncClient, thread_url: str, fake_graph: FakeGraph
) -> None:
    answer = await admin.post(
        f"{thread_url}/template",
        data={"template": "order_update|en_US", "param": ["A-7", "Ana", "", "Friday", "A-7"]},
    )

    assert answer.status_code == 400
    assert "Template not sent: fill in every parameter." in answer.text
    assert fake_graph.requests(SEND) == []


async def test_a_template_that_is_not_approved_is_not_sent(
    admin: httpx.AsyncClient, thread_url: str, fake_graph: FakeGraph
) -> None:
    answer = await admin.post(f"{thread_url}/template", data={"template": "spring_sale|en_US"})

    assert answer.status_code == 400
    assert "choose one of the approved templates" in answer.text
    assert fake_graph.requests(SEND) == []
