"""A local S3-compatible server (moto's server mode) for media storage tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from tests.support.processes import free_port

S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
S3_REGION = "us-east-1"


@contextmanager
def s3_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 in a thread; yields its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A plain (synchronous) boto3 client of the server, for setting up and looking."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=S3_REGION, **S3_CREDENTIALS)


def create_bucket(endpoint: str) -> str:
    """A new, empty bucket; returns its name."""
    name = f"media-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str) -> dict[str, Any]:
    """Settings (field names) that put media in `bucket` on the server at `endpoint`."""
    return {
        "media_storage": "s3",
        "s3_bucket": bucket,
        "s3_endpoint_url": endpoint,
        "s3_region": S3_REGION,
        "s3_access_key_id": S3_CREDENTIALS["aws_access_key_id"],
        "s3_secret_access_key": S3_CREDENTIALS["aws_secret_access_key"],
        "s3_prefix": "inbox/",
    }
