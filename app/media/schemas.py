"""API shapes of the media domain."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UploadedMediaResponse(BaseModel):
    """A file Meta accepted; send it by putting `media_id` in a message's `id`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "media_id": "1037543291543636",
                    "media_type": "image",
                    "mime_type": "image/jpeg",
                    "file_size": 48213,
                    "filename": "invoice-photo.jpg",
                }
            ]
        }
    )

    media_id: str = Field(description="Meta's id of the uploaded file (valid for 30 days)")
    media_type: str = Field(description="What Meta takes the file as: image, video, audio, …")
    mime_type: str
    file_size: int = Field(description="Size in bytes")
    filename: str
