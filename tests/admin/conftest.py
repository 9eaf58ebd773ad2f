"""Fixtures for the admin panel: settings with a login, and clients in and out of it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from app.config import Settings
from app.media.repository import MediaRepository, StoredMediaRecord
from app.media.service import media_url
from app.messages.repository import MessageRepository
from app.runtime import Runtime
from tests.conftest import make_settings
from tests.support.databases import TestDatabase

ADMIN_USERNAME = "inbox-admin"
ADMIN_PASSWORD = "correct horse battery staple"
# Cheap parameters: the hash records them, so checking it in tests stays fast.
TEST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def admin_password_hash() -> str:
    """An argon2 hash of ADMIN_PASSWORD, as `whatsapp-inbox hash-password` prints."""
    return TEST_HASHER.hash(ADMIN_PASSWORD)


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path, admin_password_hash: str) -> Settings:
    """The suite's settings with the admin login configured."""
    return make_settings(
        database.url,
        tmp_path,
        admin_username=ADMIN_USERNAME,
        admin_password_hash=admin_password_hash,
    )


# What a browser sends with a form posted from one of the admin's own pages.
SAME_ORIGIN = {"Origin": "http://testserver"}


async def log_in(
    client: httpx.AsyncClient, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD
) -> httpx.Response:
    """POST the login form, as the login page does."""
    return await client.post(
        "/admin/login", data={"username": username, "password": password}, headers=SAME_ORIGIN
    )


def csrf_token_of(page: httpx.Response) -> str:
    """The CSRF token an admin page carries for its forms."""
    found = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@pytest.fixture
async def admin(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client logged in to the admin panel that posts as its pages do (a browser's cookie
    jar, the page's origin and CSRF token, in-process)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await log_in(http)
        assert response.status_code == 302, response.text
        page = await http.get("/admin/conversation/list")
        http.headers.update({**SAME_ORIGIN, "X-CSRF-Token": csrf_token_of(page)})
        yield http


async def store_media(runtime: Runtime, message_id: str, data: bytes, mime_type: str) -> None:
    """Put a message's file in storage and record it, as the media download job does."""
    key = f"test/{message_id}"

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    size = await runtime.storage.save(key, chunks(), content_type=mime_type)
    record = StoredMediaRecord(
        path=key,
        size=size,
        sha256=hashlib.sha256(data).hexdigest(),
        mime_type=mime_type,
        filename=f"{message_id}.bin",
        url=media_url(message_id),
    )
    async with runtime.sessions.begin() as session:
        assert await MediaRepository(session).mark_stored(message_id, record)


async def message_pk(runtime: Runtime, message_id: str) -> int:
    """The admin's row id of the message with this wamid."""
    async with runtime.sessions() as session:
        message = await MessageRepository(session).get_by_message_id(message_id)
    assert message is not None
    return message.id
