"""The storage contract, on the local directory and on S3 (moto's server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.media.exceptions import StorageError, StoredFileMissing
from app.media.storage import LocalStorage, MediaStorage, S3Storage
from tests.media.conftest import chunks_of
from tests.support.s3 import S3_CREDENTIALS, S3_REGION, s3_client

MB = 1024 * 1024


async def read_all(store: MediaStorage, key: str) -> tuple[int, bytes]:
    stored = await store.open(key)
    data = b"".join([chunk async for chunk in stored.chunks])
    return stored.size, data


async def failing_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise RuntimeError("the download broke off")


def leftovers(store: MediaStorage, s3_endpoint: str | None) -> list[str]:
    """Temporary files (local) or unfinished multipart uploads (S3) left behind."""
    if isinstance(store, LocalStorage):
        return [p.name for p in store.root.rglob("*") if p.is_file()]
    assert isinstance(store, S3Storage) and s3_endpoint
    client = s3_client(s3_endpoint)
    uploads = client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    objects = client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return [u["Key"] for u in uploads] + [o["Key"] for o in objects]


def endpoint_of(storage_kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("s3_endpoint") if storage_kind == "s3" else None


async def test_saved_file_reads_back_with_its_size(store: MediaStorage) -> None:
    written = await store.save("image/a.jpg", chunks_of(b"abc", b"def"), content_type="image/jpeg")

    assert written == 6
    assert await read_all(store, "image/a.jpg") == (6, b"abcdef")


async def test_empty_file_is_stored(store: MediaStorage) -> None:
    assert await store.save("document/empty.txt", chunks_of()) == 0
    assert await read_all(store, "document/empty.txt") == (0, b"")


async def test_saving_again_replaces_the_file(store: MediaStorage) -> None:
    await store.save("image/a.jpg", chunks_of(b"first version"))
    await store.save("image/a.jpg", chunks_of(b"second"))

    assert await read_all(store, "image/a.jpg") == (6, b"second")


async def test_file_larger_than_a_part_is_stored_whole(store: MediaStorage) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    data_chunks = [block] * 11

    written = await store.save("video/big.mp4", chunks_of(*data_chunks))

    size, data = await read_all(store, "video/big.mp4")
    assert written == size == 11 * MB
    assert data == block * 11


async def test_failed_save_leaves_nothing_behind(
    store: MediaStorage, storage_kind: str, request: pytest.FixtureRequest
) -> None:
    block = b"x" * MB
    with pytest.raises(RuntimeError, match="broke off"):
        await store.save("video/broken.mp4", failing_after(*[block] * 6))

    with pytest.raises(StoredFileMissing):
        await store.open("video/broken.mp4")
    assert leftovers(store, endpoint_of(storage_kind, request)) == []


async def test_failed_save_keeps_the_previous_file(store: MediaStorage) -> None:
    await store.save("image/a.jpg", chunks_of(b"good"))
    with pytest.raises(RuntimeError):
        await store.save("image/a.jpg", failing_after(b"partial"))

    assert await read_all(store, "image/a.jpg") == (4, b"good")


async def test_missing_file_cannot_be_opened(store: MediaStorage) -> None:
    with pytest.raises(StoredFileMissing):
        await store.open("image/never-stored.jpg")


async def test_deleted_file_is_gone_and_deleting_again_is_harmless(store: MediaStorage) -> None:
    await store.save("audio/a.ogg", chunks_of(b"voice"))

    await store.delete("audio/a.ogg")
    await store.delete("audio/a.ogg")

    with pytest.raises(StoredFileMissing):
        await store.open("audio/a.ogg")


@pytest.mark.parametrize("key", ["../outside.jpg", "/etc/passwd", "image/../../x", "", "a//b"])
async def test_keys_cannot_leave_the_store(store: MediaStorage, key: str) -> None:
    with pytest.raises(StorageError, match="invalid storage key"):
        await store.save(key, chunks_of(b"x"))


async def test_local_files_live_under_the_media_directory(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "media")

    await store.save("image/ab/c.jpg", chunks_of(b"x"))

    assert (tmp_path / "media" / "image" / "ab" / "c.jpg").read_bytes() == b"x"


async def test_s3_objects_live_under_the_prefix(s3_endpoint: str, s3_bucket: str) -> None:
    store = S3Storage(
        bucket=s3_bucket,
        prefix="inbox/",
        endpoint_url=s3_endpoint,
        region=S3_REGION,
        access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    )
    try:
        await store.save("image/c.jpg", chunks_of(b"x"), content_type="image/jpeg")
    finally:
        await store.close()

    head = s3_client(s3_endpoint).head_object(Bucket=s3_bucket, Key="inbox/image/c.jpg")
    assert head["ContentType"] == "image/jpeg"
