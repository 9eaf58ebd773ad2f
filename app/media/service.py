"""What the media domain does: fetch a message's file from Meta into storage, serve it
back, and pass uploads on to Meta.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import StreamingResponse

from app.changes import bodies
from app.changes.repository import ChangeRepository
from app.media.exceptions import (
    ChecksumMismatch,
    MediaNotFound,
    MediaNotStored,
    MediaRejected,
    MediaTooLarge,
    MetaRejectedUpload,
    StoredFileMissing,
    UnsupportedMediaType,
    UploadTooLarge,
)
from app.media.limits import (
    MEDIA_TYPES,
    extension_for,
    guess_mime,
    max_bytes_for,
    media_type_for_mime,
    normalize_mime,
)
from app.media.repository import MediaRepository, StoredMediaRecord
from app.media.storage import MediaStorage, StoredFile
from app.messages.repository import MessageRepository
from app.models import MediaState, Message
from app.outbound.graph import GraphAPIError, GraphClient
from app.runtime import Runtime

logger = logging.getLogger(__name__)

# Where this service serves a message's media (the route in app.media.endpoints).
MEDIA_URL_PREFIX = "/api/whatsapp/media/"
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_GENERIC_MIME_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})


@dataclass(frozen=True)
class MediaTarget:
    """What a download needs to know of its message, read before any network call."""

    message_id: str
    message_type: str
    media_id: str | None
    mime_type: str | None
    filename: str | None
    sha256: str | None
    animated: bool | None
    state: str | None


def media_url(message_id: str) -> str:
    """This service's URL of a message's stored media."""
    return MEDIA_URL_PREFIX + quote(message_id, safe="=+")


def _media_object(message: Message) -> dict[str, Any]:
    """The message's media object as Meta sent it (`raw[type]`), or {}."""
    raw = message.raw if isinstance(message.raw, dict) else {}
    media = raw.get(message.message_type)
    return media if isinstance(media, dict) else {}


async def load_target(runtime: Runtime, message_id: str) -> MediaTarget | None:
    """Read the message in a short transaction of its own; None when it does not exist."""
    async with runtime.sessions() as session:
        message = await MessageRepository(session).get_by_message_id(message_id)
    if message is None:
        return None
    media = _media_object(message)
    animated = media.get("animated")
    sha256 = media.get("sha256") or message.media_sha256
    return MediaTarget(
        message_id=message.message_id,
        message_type=message.message_type,
        media_id=message.media_id or (str(media["id"]) if media.get("id") else None),
        mime_type=message.mime_type,
        filename=message.filename,
        sha256=sha256 if isinstance(sha256, str) else None,
        animated=animated if isinstance(animated, bool) else None,
        state=message.media_state,
    )


def storage_key(target: MediaTarget, mime_type: str | None) -> str:
    """The file's key: fixed by the message, so a rerun overwrites instead of leaking."""
    name = hashlib.sha256(target.message_id.encode()).hexdigest()
    return f"{target.message_type}/{name}{extension_for(mime_type)}"


def _filename(target: MediaTarget, mime_type: str | None) -> str:
    """Documents keep the customer's file name; other media are named after the wamid."""
    if target.message_type == "document" and target.filename:
        return target.filename
    return target.message_id.replace("/", "_") + extension_for(mime_type)


def _expected_digest(value: str | None) -> bytes | None:
    """Meta's sha256 as bytes: hex from GET /{media-id}, base64 in webhooks."""
    if not value:
        return None
    text = value.strip()
    if _HEX_SHA256.fullmatch(text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


class _CheckedStream:
    """The download's chunks, passed through while counted and hashed.

    Fails past `limit` and, after the last chunk, on a hash other than `expected`;
    raising inside the stream makes the storage abandon the file before publishing it.
    """

    def __init__(
        self, chunks: AsyncIterable[bytes], *, limit: int, media_type: str, expected: bytes | None
    ) -> None:
        self._chunks = chunks
        self._limit = limit
        self._media_type = media_type
        self._expected = expected
        self.sha256 = hashlib.sha256()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._chunks:
            size += len(chunk)
            if size > self._limit:
                raise MediaTooLarge(
                    f"the {self._media_type} file is larger than Meta's limit of "
                    f"{self._limit} bytes"
                )
            self.sha256.update(chunk)
            yield chunk
        if self._expected is not None and self.sha256.digest() != self._expected:
            raise ChecksumMismatch(
                f"the downloaded {self._media_type} file does not match Meta's sha256 "
                f"({self.sha256.hexdigest()} != {self._expected.hex()})"
            )


async def fetch_to_storage(runtime: Runtime, target: MediaTarget) -> StoredMediaRecord:
    """Ask Meta where the file is, stream it into storage, and say what was stored.

    Raises GraphAPIError (Meta failed, or the download URL is not Meta's),
    MediaTooLarge (declared or streamed past Meta's limit for the type),
    ChecksumMismatch, or MediaRejected (no media id); in each case nothing is left in
    storage.
    """
    if not target.media_id:
        raise MediaRejected(f"message {target.message_id} names no media id")
    info = await runtime.graph.get_media(target.media_id)
    limit = max_bytes_for(target.message_type, animated=target.animated)
    if info.file_size is not None and info.file_size > limit:
        raise MediaTooLarge(
            f"Meta reports the {target.message_type} file as {info.file_size} bytes, "
            f"over its limit of {limit} bytes"
        )
    mime_type = normalize_mime(info.mime_type) or normalize_mime(target.mime_type)
    expected_text = info.sha256 or target.sha256
    expected = _expected_digest(expected_text)
    if expected_text and expected is None:
        logger.warning("media %s: sha256 in an unknown format, not checked", target.media_id)
    key = storage_key(target, mime_type)
    async with runtime.graph.stream_media(info.url) as response:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise MediaTooLarge(
                f"the {target.message_type} download is {declared} bytes, "
                f"over Meta's limit of {limit} bytes"
            )
        stream = _CheckedStream(
            response.aiter_bytes(), limit=limit, media_type=target.message_type, expected=expected
        )
        size = await runtime.storage.save(key, stream, content_type=mime_type)
    return StoredMediaRecord(
        path=key,
        size=size,
        sha256=stream.sha256.hexdigest(),
        mime_type=mime_type,
        filename=_filename(target, mime_type),
        url=media_url(target.message_id),
    )


async def record_stored(runtime: Runtime, message_id: str, record: StoredMediaRecord) -> bool:
    """Mark the message's media stored, in a transaction of its own."""
    async with runtime.sessions() as session, session.begin():
        repository = MediaRepository(session)
        if not await repository.mark_stored(message_id, record):
            return False
        change = bodies.media_stored(
            message_id,
            await repository.conversation_of(message_id),
            mime_type=record.mime_type,
            size=record.size,
            url=record.url,
        )
        await ChangeRepository(session).add(change, now=runtime.clock())
        return True


# Served media must never run as a page of this origin: no scripts, plugins or same-origin.
MEDIA_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass
class MediaDownload:
    """A stored media file opened for serving, with the headers that describe it."""

    file: StoredFile
    mime_type: str
    filename: str | None
    attachment: bool

    def headers(self) -> dict[str, str]:
        """Content-Length, Content-Disposition (with the file name), nosniff and a sandbox."""
        disposition = "attachment" if self.attachment else "inline"
        if self.filename:
            disposition += _filename_parameters(self.filename)
        return {
            "Content-Length": str(self.file.size),
            "Content-Disposition": disposition,
            # Customers choose what they send; never let a browser reinterpret it, nor
            # run it as a page of this origin when opened directly (an SVG or HTML file).
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": MEDIA_CSP,
        }


def _filename_parameters(filename: str) -> str:
    """`; filename="…"; filename*=UTF-8''…`: an ASCII fallback and the exact name."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def open_message_media(
    session: AsyncSession, storage: MediaStorage, message_id: str
) -> MediaDownload:
    """Open the stored media of a message.

    Raises MediaNotFound for an unknown message or one without media, and
    MediaNotStored (with the state and the reason of a failure) while it is not stored.
    """
    message = await MessageRepository(session).get_by_message_id(message_id)
    if message is None:
        raise MediaNotFound(f"no message {message_id}")
    has_media = message.media_id or message.media_state or message.message_type in MEDIA_TYPES
    if not has_media:
        raise MediaNotFound(f"message {message_id} has no media")
    if message.media_state != MediaState.STORED or not message.media_path:
        raise MediaNotStored(message_id, message.media_state, message.media_error)
    try:
        stored = await storage.open(message.media_path)
    except StoredFileMissing as exc:
        logger.warning("media of %s is recorded as stored but missing from storage", message_id)
        raise MediaNotFound(f"the stored file of {message_id} is missing") from exc
    mime_type = message.mime_type or "application/octet-stream"
    # Pictures and players show inline; anything else (and SVG, which can carry
    # scripts) is offered as a download.
    playable = mime_type.startswith(("image/", "audio/", "video/")) and "svg" not in mime_type
    return MediaDownload(
        file=stored,
        mime_type=mime_type,
        filename=message.filename,
        attachment=message.message_type == "document" or not playable,
    )


async def stream_message_media(
    session: AsyncSession, storage: MediaStorage, message_id: str
) -> StreamingResponse:
    """A response streaming a message's stored media with its type and file name.

    Shared by the API route and the admin panel (each checks its own credentials
    first); raises MediaNotFound / MediaNotStored as open_message_media does.
    """
    download = await open_message_media(session, storage, message_id)
    return StreamingResponse(
        download.file.chunks, media_type=download.mime_type, headers=download.headers()
    )


@dataclass(frozen=True)
class UploadedMedia:
    """A file Meta accepted: its media id (for sends) and what it was taken as."""

    media_id: str
    media_type: str
    mime_type: str
    file_size: int
    filename: str


def upload_mime_type(upload: UploadFile) -> str | None:
    """The upload's MIME type: its part's Content-Type, else what its file name says."""
    declared = normalize_mime(upload.content_type)
    if declared and declared not in _GENERIC_MIME_TYPES:
        return declared
    return normalize_mime(guess_mime(upload.filename))


async def upload_media(
    graph: GraphClient, phone_number_id: str, upload: UploadFile
) -> UploadedMedia:
    """Check an uploaded file against Meta's rules and pass it to Meta.

    Raises UnsupportedMediaType, UploadTooLarge (over the limit for its media type) or
    MetaRejectedUpload (with Meta's code and message).
    """
    mime_type = upload_mime_type(upload)
    media_type = media_type_for_mime(mime_type)
    if mime_type is None or media_type is None:
        raise UnsupportedMediaType(
            f"Meta does not take files of type {mime_type or 'unknown'}; send one of the "
            "types of its supported media table (e.g. image/jpeg, video/mp4, application/pdf)"
        )
    size = upload.size if upload.size is not None else 0
    limit = max_bytes_for(media_type)
    if size > limit:
        raise UploadTooLarge(
            f"the {media_type} file is {size} bytes, over Meta's limit of {limit} bytes",
            limit=limit,
        )
    filename = upload.filename or f"upload{extension_for(mime_type)}"
    await upload.seek(0)
    try:
        media_id = await graph.upload_media(phone_number_id, filename, mime_type, upload.file)
    except GraphAPIError as exc:
        raise MetaRejectedUpload(exc) from exc
    return UploadedMedia(
        media_id=media_id,
        media_type=media_type,
        mime_type=mime_type,
        file_size=size,
        filename=filename,
    )
