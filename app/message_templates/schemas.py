"""Shapes of the templates API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TemplateStatusName = Literal[
    "APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION"
]


class TemplateListParams(BaseModel):
    """Filters of the template list; every filter given must match."""

    model_config = ConfigDict(extra="forbid")

    status: TemplateStatusName | None = Field(None, description="Only templates in this status.")
    name: str | None = Field(None, min_length=1, max_length=512, description="Only this name.")
    language: str | None = Field(
        None, min_length=2, max_length=16, description="Only this language code (en_US)."
    )


class TemplateOut(BaseModel):
    """A template of the WhatsApp Business Account, as Meta last described it."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "template_id": "594425479261596",
                    "name": "order_update",
                    "language": "en_US",
                    "category": "UTILITY",
                    "status": "APPROVED",
                    "quality_score": "GREEN",
                    "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} has shipped."}],
                    "parameter_count": 2,
                    "parameters": [
                        {"component": "body", "kind": "text", "name": "1"},
                        {"component": "body", "kind": "text", "name": "2"},
                    ],
                    "synced_at": "2024-01-15T10:30:00Z",
                }
            ]
        },
    )

    template_id: str = Field(description="Meta's id of the template.")
    name: str
    language: str
    category: str | None = Field(description="MARKETING, UTILITY or AUTHENTICATION.")
    status: str = Field(description="APPROVED templates can be sent; others cannot.")
    quality_score: str | None = Field(description="GREEN, YELLOW, RED or UNKNOWN.")
    components: list[Any] = Field(description="Meta's components (header, body, buttons).")
    parameter_count: int = Field(description="How many parameters a send must give.")
    parameters: list[dict[str, Any]] = Field(
        description="Each parameter a send gives: its component, kind and placeholder."
    )
    synced_at: datetime = Field(description="When Meta last described it to the service.")


class TemplateList(BaseModel):
    """The stored templates, by name and language."""

    count: int
    templates: list[TemplateOut]
