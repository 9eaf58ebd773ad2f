"""A template send is checked against the synced template before Meta is called: it
exists in that language, is APPROVED, and gets the parameters it needs."""

from __future__ import annotations

from typing import Any

import httpx

from app.models import Job
from app.runtime import Runtime
from tests.message_templates.conftest import order_update_components
from tests.support.fake_graph import SEND, FakeGraph
from tests.webhook import stored

SEND_URL = "/api/whatsapp/messages/"
CUSTOMER = "919876543210"


def _template(name: str, language: str = "en_US", **extra: Any) -> dict[str, Any]:
    return {"type": "template", "to": CUSTOMER, "name": name, "language": language, **extra}


async def test_a_fitting_template_is_sent_and_stored_with_its_rendered_text(
    api: httpx.AsyncClient, runtime: Runtime, synced: FakeGraph
) -> None:
    components = order_update_components("Ana", "A-1", "Friday")

    answer = await api.post(SEND_URL, json=_template("order_update", components=components))

    assert answer.status_code == 201, answer.text
    (sent,) = synced.sent_messages()
    assert sent["template"]["components"] == components
    assert answer.json()["text_body"] == (
        "Order A-1\n\nHi Ana, your order A-1 ships on Friday.\n\nReply STOP to opt out"
    )
    (message,) = await stored.messages(runtime)
    assert message.message_type == "template"


async def test_named_parameters_and_a_media_header_are_accepted(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    components = [
        {
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": "https://x.example/a.jpg"}}],
        },
        {
            "type": "body",
            "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Ana"}],
        },
    ]

    answer = await api.post(SEND_URL, json=_template("welcome", components=components))

    assert answer.status_code == 201, answer.text
    assert answer.json()["text_body"] == "Welcome, Ana!"


async def test_an_unknown_template_is_refused_before_meta_is_called(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json=_template("order_updates"))

    assert answer.status_code == 422
    assert answer.json()["error"] == "template_not_sendable"
    assert "no template named 'order_updates'" in answer.json()["detail"]
    assert synced.requests(SEND) == []


async def test_a_template_in_another_language_names_the_languages_it_has(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json=_template("order_update", "fr"))

    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "template 'order_update' has no fr version; it exists in: de, en_US"
    )
    assert synced.requests(SEND) == []


async def test_a_template_that_is_not_approved_is_refused(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json=_template("spring_sale"))

    assert answer.status_code == 422
    assert "is PAUSED; only APPROVED templates can be sent" in answer.json()["detail"]
    assert synced.requests(SEND) == []


async def test_too_few_parameters_are_refused_saying_what_is_expected(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    components = order_update_components("Ana", "A-1")

    answer = await api.post(SEND_URL, json=_template("order_update", components=components))

    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "template 'order_update' (en_US): body has 2 parameter(s), expected 3; it needs "
        "header {{1}}, body {{1}}, body {{2}}, body {{3}}, button 0 {{1}}"
    )
    assert synced.requests(SEND) == []


async def test_a_parameter_of_the_wrong_kind_is_refused(
    api: httpx.AsyncClient, synced: FakeGraph
) -> None:
    components = [
        {"type": "header", "parameters": [{"type": "text", "text": "not an image"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
    ]

    answer = await api.post(SEND_URL, json=_template("welcome", components=components))

    assert answer.status_code == 422
    assert "header image must be a parameter of type image, not 'text'" in answer.json()["detail"]


async def test_a_queued_template_is_checked_before_it_is_queued(
    api: httpx.AsyncClient, runtime: Runtime, synced: FakeGraph
) -> None:
    answer = await api.post(SEND_URL, json=_template("spring_sale", queued=True))

    assert answer.status_code == 422
    assert await stored.rows(runtime, Job) == []
