"""Routes of the media domain: serve a message's stored file; upload a file to Meta."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from app.business_numbers import MAX_NAME_LENGTH
from app.deps import ApiKeyDep, RuntimeDep, SessionDep
from app.errors import ErrorBody
from app.media import service
from app.media.schemas import UploadedMediaResponse
from app.media.upload import FILE_FIELD, FROM_FIELD, read_upload

router = APIRouter(tags=["media"], dependencies=[ApiKeyDep])


def _errors(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": text} for code, text in descriptions.items()}


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The file, with its Content-Type (e.g. image/jpeg)",
                        },
                        FROM_FIELD: {
                            "type": "string",
                            "maxLength": MAX_NAME_LENGTH,
                            "description": (
                                "The business number (phone_number_id or label) that will "
                                "send the file: Meta lets only the number that uploaded a "
                                "file send it. Default: WHATSAPP_PHONE_NUMBER_ID."
                            ),
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/media/",
    status_code=201,
    response_model=UploadedMediaResponse,
    summary="Upload a file to Meta for sending",
    description=(
        "Passes a multipart/form-data upload (field `file`) on to Meta and answers the "
        "media id to put in a message's `id`. The file's type must be one Meta takes, and "
        "its size within Meta's limit for that type (image 5 MB, video and audio 16 MB, "
        "document 100 MB, sticker 500 KB). Name the number that will send it in `from` "
        "(its phone_number_id or label) when the business has several."
    ),
    openapi_extra=_UPLOAD_BODY,
    responses=_errors(
        {
            400: "Not valid multipart, `from` not a short text, or Meta refused the file",
            401: "No API key, or not a valid one",
            413: "The file is over Meta's limit for its type",
            415: "Meta does not take files of this type",
            422: "No file in the field `file`, or `from` is no business number",
            429: "Meta's rate limit; try again later",
            502: "Meta failed or could not be reached; `meta` holds Meta's code and message",
        }
    ),
)
async def upload_media(request: Request, runtime: RuntimeDep) -> UploadedMediaResponse:
    """Upload a file to Meta."""
    upload = await read_upload(request)
    try:
        number = (
            runtime.settings.business_number(upload.from_).id
            if upload.from_ is not None
            else runtime.settings.whatsapp_phone_number_id
        )
        uploaded = await service.upload_media(runtime.graph, number, upload.file)
    finally:
        await upload.file.close()
    return UploadedMediaResponse(
        media_id=uploaded.media_id,
        media_type=uploaded.media_type,
        mime_type=uploaded.mime_type,
        file_size=uploaded.file_size,
        filename=uploaded.filename,
    )


@router.get(
    "/media/{message_id:path}",
    response_class=StreamingResponse,
    summary="Download a message's media",
    description=(
        "Streams the stored file of a message (by its wamid) with its content type and "
        "length; documents come as attachments with their file name. While the file is "
        "not stored the 404 says its `media_state` (`pending`, or `failed` with "
        "`media_error`)."
    ),
    responses={
        200: {"description": "The file", "content": {"application/octet-stream": {}}},
        **_errors(
            {
                401: "No API key, or not a valid one",
                404: "No such message, no media, or the file is not stored (see media_state)",
            }
        ),
    },
)
async def get_media(message_id: str, session: SessionDep, runtime: RuntimeDep) -> StreamingResponse:
    """Stream a message's stored media."""
    return await service.stream_message_media(session, runtime.storage, message_id)
