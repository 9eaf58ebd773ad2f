"""When the admin is on, and that it serves every asset itself (no CDN)."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from app.admin import ADMIN_OFF_MESSAGE
from app.config import Settings
from app.main import create_app
from tests.conftest import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN
from tests.support.processes import start_server


async def test_without_admin_credentials_the_admin_is_off_and_says_so(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    off = settings.model_copy(update={"admin_username": ""})
    with caplog.at_level(logging.WARNING):
        app = create_app(off)
    try:
        assert ADMIN_OFF_MESSAGE in caplog.text
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await http.get("/admin/")).status_code == 404
            assert (await http.get("/admin/login")).status_code == 404
    finally:
        await app.state.runtime.close()


def test_in_production_without_admin_credentials_the_server_starts_with_the_admin_off(
    tmp_path: Path,
) -> None:
    env = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'prod.db'}",
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "API_KEYS": "a-production-key-of-32-characters-or-more",
        "ADMIN_USERNAME": "",
        "ADMIN_PASSWORD_HASH": "",
        "WORKER_ENABLED": "false",
        "MEDIA_DIR": str(tmp_path / "media"),
    }
    server, url = start_server(env, tmp_path / "server.log")
    try:
        assert httpx.get(f"{url}/admin/").status_code == 404
        assert httpx.get(f"{url}/admin/login").status_code == 404
        deadline = time.monotonic() + 5
        while ADMIN_OFF_MESSAGE not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ADMIN_OFF_MESSAGE in server.log()
    finally:
        server.stop()


def _assets(page: str) -> list[str]:
    return re.findall(r'<(?:link|script|img)[^>]+(?:href|src)="([^"]+)"', page)


@pytest.mark.parametrize(
    "path",
    ["/admin/login", "/admin/conversation/list", "/admin/message/list", "/admin/job/list"],
)
async def test_every_asset_of_the_admin_is_served_by_the_service_itself(
    admin: httpx.AsyncClient, path: str
) -> None:
    page = await admin.get(path)
    assets = _assets(page.text)
    assert assets
    for asset in assets:
        assert urlsplit(asset).netloc in ("", "testserver"), asset
        assert (await admin.get(asset)).status_code == 200, asset


def test_the_admin_templates_reference_no_other_host() -> None:
    templates = Path(__file__).resolve().parents[2] / "app" / "admin" / "templates"
    for template in templates.rglob("*.html"):
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", template.read_text()), template
