"""Where media files live: a local directory, or S3-compatible object storage.

Both stream in both directions, a chunk at a time, so a file is never held whole in
memory. A file appears under its key only once it is complete: the local store writes a
temporary file and renames it; S3 publishes an object only when its upload completes.
A failed or abandoned save therefore leaves nothing under the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

from app.config import Settings
from app.media.exceptions import StorageError, StoredFileMissing

READ_CHUNK_BYTES = 64 * 1024
# S3 parts must be at least 5 MiB (except the last); 8 MiB keeps memory bounded.
S3_PART_BYTES = 8 * 1024 * 1024


@dataclass
class StoredFile:
    """An open stored file: its size, and its bytes as an async iterator of chunks.

    The iterator releases the underlying file or connection when it ends or is closed.
    """

    size: int
    chunks: AsyncIterator[bytes]


class MediaStorage(Protocol):
    """A place to keep media files by key (a relative, slash-separated path)."""

    async def save(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Store the chunks under `key`, replacing what was there; return the byte count.

        If iterating `chunks` raises, nothing is stored and the exception propagates.
        """
        ...

    async def open(self, key: str) -> StoredFile:
        """Open the file under `key` for streaming; StoredFileMissing if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the file under `key`, if any."""
        ...

    async def close(self) -> None:
        """Release connections; called once at shutdown."""
        ...


def _checked_key(key: str) -> PurePosixPath:
    """A key as a relative path that cannot leave the storage root (and is written plainly)."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or str(path) != key:
        raise StorageError(f"invalid storage key: {key!r}")
    return path


class LocalStorage:
    """Files under a directory on local disk (one replica, or a shared volume)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_checked_key(key).parts)

    async def save(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Write to a temporary file beside the target, then rename it into place."""
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        handle: BinaryIO = await asyncio.to_thread(temporary.open, "wb")
        size = 0
        try:
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                    size += len(chunk)
                await asyncio.to_thread(_flush_to_disk, handle)
            finally:
                handle.close()
            await asyncio.to_thread(os.replace, temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return size

    async def open(self, key: str) -> StoredFile:
        """Open the file; reads run in a thread so the event loop never blocks on disk."""
        path = self._path(key)
        try:
            handle: BinaryIO = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise StoredFileMissing(f"no stored file {key!r}") from exc
        size = os.fstat(handle.fileno()).st_size
        return StoredFile(size=size, chunks=_read_file(handle))

    async def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def close(self) -> None:
        """Nothing to release."""


def _flush_to_disk(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


async def _read_file(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, READ_CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


class S3Storage:
    """Objects in an S3-compatible bucket, shared by every replica.

    One client per process, opened on first use. Uploads go as one PUT when the file
    fits in a part, otherwise as a multipart upload (aborted on failure, so no partial
    object and no orphaned parts remain).
    """

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_bytes: int = S3_PART_BYTES,
    ) -> None:
        if not bucket:
            raise StorageError("S3 media storage needs a bucket (S3_BUCKET)")
        self.bucket = bucket
        self.prefix = prefix
        self.part_bytes = part_bytes
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            # Unset credentials fall through to the default chain (environment, role).
            "aws_access_key_id": access_key_id or None,
            "aws_secret_access_key": secret_access_key or None,
        }
        self._client: Any = None
        self._exit_stack = contextlib.AsyncExitStack()
        self._lock = asyncio.Lock()

    def _key(self, key: str) -> str:
        return f"{self.prefix}{_checked_key(key)}"

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                import aioboto3

                session = aioboto3.Session()
                self._client = await self._exit_stack.enter_async_context(
                    session.client("s3", **self._client_options)
                )
        return self._client

    async def save(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Upload in parts of `part_bytes`; only a completed upload becomes the object."""
        s3 = await self._s3()
        object_key = self._key(key)
        extra = {"ContentType": content_type} if content_type else {}
        buffer = bytearray()
        size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= self.part_bytes:
                    if upload_id is None:
                        created = await s3.create_multipart_upload(
                            Bucket=self.bucket, Key=object_key, **extra
                        )
                        upload_id = created["UploadId"]
                    parts.append(await self._upload_part(s3, object_key, upload_id, parts, buffer))
                    buffer = bytearray()
            if upload_id is None:
                await s3.put_object(Bucket=self.bucket, Key=object_key, Body=bytes(buffer), **extra)
                return size
            if buffer:
                parts.append(await self._upload_part(s3, object_key, upload_id, parts, buffer))
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await s3.abort_multipart_upload(
                        Bucket=self.bucket, Key=object_key, UploadId=upload_id
                    )
            raise
        return size

    async def _upload_part(
        self,
        s3: Any,
        object_key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        data: bytearray,
    ) -> dict[str, Any]:
        number = len(parts) + 1
        answer = await s3.upload_part(
            Bucket=self.bucket,
            Key=object_key,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(data),
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def open(self, key: str) -> StoredFile:
        """GET the object and stream its body."""
        from botocore.exceptions import ClientError

        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise StoredFileMissing(f"no stored file {key!r}") from exc
            raise
        return StoredFile(size=int(answer["ContentLength"]), chunks=_read_body(answer["Body"]))

    async def delete(self, key: str) -> None:
        """DELETE the object; S3 answers the same whether it existed or not."""
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self._exit_stack.aclose()
        self._client = None


async def _read_body(body: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in body.iter_chunks(READ_CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def create_storage(settings: Settings) -> MediaStorage:
    """The store `settings.media_storage` names."""
    if settings.media_storage == "s3":
        return S3Storage(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key.get_secret_value(),
        )
    return LocalStorage(settings.media_dir)
