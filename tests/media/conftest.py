"""Fixtures for media: a local S3 server (moto), stores of both kinds, message rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.media.storage import LocalStorage, MediaStorage, S3Storage
from app.models import Direction, MediaState, Message, MessageStatus
from tests.conftest import PHONE_NUMBER_ID, make_settings
from tests.support.databases import TestDatabase
from tests.support.s3 import S3_CREDENTIALS, S3_REGION, create_bucket, s3_server, s3_settings

GRAPH = "https://graph.facebook.com/v25.0"
MEDIA_HOST_URL = "https://lookaside.fbsbx.com/whatsapp_business/attachments/"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-compatible server (moto's server mode) on 127.0.0.1 for the whole run."""
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket for one test."""
    return create_bucket(s3_endpoint)


@pytest.fixture(params=["local", "s3"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    """Tests that take this run once with each kind of store."""
    return str(request.param)


@pytest.fixture
def media_settings(
    storage_kind: str, database: TestDatabase, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    """Settings on this backend's database with media in the `storage_kind` store."""
    overrides: dict[str, Any] = {}
    if storage_kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        overrides = s3_settings(endpoint, request.getfixturevalue("s3_bucket"))
    return make_settings(database.url, tmp_path, **overrides)


@pytest.fixture
async def store(
    storage_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[MediaStorage]:
    """A store of the `storage_kind` kind, with small S3 parts so multipart is exercised."""
    storage: MediaStorage
    if storage_kind == "s3":
        storage = S3Storage(
            bucket=request.getfixturevalue("s3_bucket"),
            prefix="inbox/",
            endpoint_url=request.getfixturevalue("s3_endpoint"),
            region=S3_REGION,
            access_key_id=S3_CREDENTIALS["aws_access_key_id"],
            secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
            part_bytes=5 * 1024 * 1024,
        )
    else:
        storage = LocalStorage(tmp_path / "store")
    yield storage
    await storage.close()


async def add_message(session: AsyncSession, **fields: Any) -> Message:
    """Store an inbound message as the webhook would, media pending unless told otherwise."""
    message_type = fields.pop("message_type", "image")
    media_id = fields.pop("media_id", "1234567890")
    values: dict[str, Any] = {
        "message_id": f"wamid.{uuid.uuid4().hex}",
        "direction": Direction.INBOUND,
        "phone_number_id": PHONE_NUMBER_ID,
        "from_number": "919876543210",
        "message_type": message_type,
        "media_id": media_id,
        "mime_type": "image/jpeg",
        "media_state": MediaState.PENDING,
        "timestamp": datetime.now(UTC),
        "status": MessageStatus.RECEIVED,
        "raw": {"type": message_type, message_type: {"id": media_id}},
    }
    values.update(fields)
    message = Message(**values)
    session.add(message)
    await session.commit()
    return message


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    """An async stream of the given chunks."""
    for part in parts:
        yield part
