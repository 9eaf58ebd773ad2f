"""The README's examples are requests the service accepts."""

import json
import re
from pathlib import Path

import pytest

from app.config import Settings
from app.outbound.schemas import send_request_adapter
from app.webhook.delivery import parse_delivery

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()

# `-d '<json>'` arguments of the curl examples that send a message.
SEND_BODIES = [
    body
    for body, target in re.findall(r"-d '(\{[^']*\})'[\s\\]*\"\$BASE(\S+)\"", README)
    if target == "/api/whatsapp/messages/"
]


def test_readme_has_send_examples() -> None:
    assert len(SEND_BODIES) >= 4


@pytest.mark.parametrize("body", SEND_BODIES)
def test_readme_send_example_is_a_valid_request(body: str) -> None:
    send_request_adapter.validate_python(json.loads(body))


def test_readme_webhook_example_is_a_whatsapp_webhook() -> None:
    body = re.search(r"BODY='(\{.*?\})'", README)
    assert body is not None
    delivery = parse_delivery(body.group(1).encode())
    assert delivery.changes[0].messages
    assert not delivery.rejections


@pytest.mark.parametrize("name", [name.upper() for name in Settings.model_fields])
def test_readme_documents_the_setting(name: str) -> None:
    assert f"`{name}`" in README


def test_readme_curl_examples_use_the_saved_key_and_the_port_without_guessing() -> None:
    from app.dev_secrets import DEV_SECRETS_FILE

    assert f". ./{DEV_SECRETS_FILE}" in README
    assert "BASE=http://127.0.0.1:${PORT:-8000}" in README
    requests = re.findall(r"curl .*?(\S*/(?:api/whatsapp|healthz|readyz)\S*)", README)
    assert len(requests) >= 15
    assert all(url.startswith('"$BASE/') for url in requests), requests
