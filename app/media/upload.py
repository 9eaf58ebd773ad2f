"""Reading a multipart upload with a size ceiling enforced while the body arrives.

The body-size middleware lets upload paths through (files are far larger than any
webhook), so this is where an oversized upload is stopped: by its Content-Length, or
as soon as more bytes arrive than any media type allows. File parts are spooled to a
temporary file (on disk past 1 MB), never held whole in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.business_numbers import MAX_NAME_LENGTH, is_number_name
from app.errors import BadRequest
from app.media.exceptions import UploadFileMissing, UploadTooLarge
from app.media.limits import LARGEST_MEDIA_BYTES, MB

FILE_FIELD = "file"
# The business number that will send the file: Meta lets only the number that uploaded a
# file send it.
FROM_FIELD = "from"
# Room for the multipart framing and small fields around the largest allowed file.
MAX_UPLOAD_BODY_BYTES = LARGEST_MEDIA_BYTES + MB


def _too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"the upload is larger than the largest file Meta takes ({LARGEST_MEDIA_BYTES} bytes)",
        limit=LARGEST_MEDIA_BYTES,
    )


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise _too_large()
        yield chunk


@dataclass
class Upload:
    """A file to pass on to Meta, and the business number (id or label) it is for, if
    the form named one."""

    file: UploadFile
    from_: str | None


async def read_upload(request: Request) -> Upload:
    """The file part named `file` of a multipart/form-data request, with its `from` field.

    Raises UploadTooLarge past MAX_UPLOAD_BODY_BYTES, UploadFileMissing without a file
    part, and BadRequest for a body that is not valid multipart or a `from` that is not
    a short text.
    """
    limit = MAX_UPLOAD_BODY_BYTES
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UploadFileMissing(
            f"send the file as multipart/form-data in a field named {FILE_FIELD!r}"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large()
    parser = MultiPartParser(
        request.headers, _limited(request.stream(), limit), max_files=1, max_fields=16
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"the multipart body cannot be read: {exc.message}") from exc
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile):
        await form.close()
        raise UploadFileMissing(f"no file in the field {FILE_FIELD!r} of the form")
    from_ = form.get(FROM_FIELD)
    if from_ is None or is_number_name(from_):
        return Upload(upload, from_)
    await form.close()
    raise BadRequest(
        f"{FROM_FIELD}: give a business number's phone_number_id or label, as text of "
        f"1 to {MAX_NAME_LENGTH} characters"
    )
