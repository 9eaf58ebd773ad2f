"""The business's WhatsApp numbers: each one's Graph API id, the number, a label, a token.

A business may answer on several numbers (support, sales). Each conversation belongs to
the number the customer wrote to, and its replies go out from that number; a send may
name its number (`from`) by id or by label.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.errors import DomainError

# The longest phone_number_id or label a number may have, and so the longest name (`from`,
# a filter) that can refer to one.
MAX_NAME_LENGTH = 64


def is_number_name(value: object) -> TypeGuard[str]:
    """Whether `value` can name a business number: text of 1 to MAX_NAME_LENGTH
    characters, without NUL (configured or not is for find_number to say)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH and "\x00" not in value


class BusinessNumber(BaseModel):
    """One business number of WHATSAPP_PHONE_NUMBERS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, description="Its phone_number_id.")
    display: str = Field("", max_length=32, description="The number as people read it.")
    label: str = Field(
        "", max_length=MAX_NAME_LENGTH, description="A short name: support, sales, ..."
    )
    # Only when this number belongs to another app or system user than the default token's.
    access_token: SecretStr | None = None

    @property
    def name(self) -> str:
        """How people see the number: its label and display number, or its id."""
        parts = [part for part in (self.label, self.display) if part]
        return " · ".join(parts) or self.id


def number_filter(items: str) -> Any:
    """The optional `phone_number_id` filter of a list of `items` (a Field default)."""
    return Field(
        None,
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description=f"Only {items} of this business number (its Graph API id).",
        examples=["106540352242922"],
    )


class UnknownBusinessNumber(DomainError):
    """A send named a `from` that is no configured business number."""

    status_code = 422
    error = "unknown_business_number"


def check_numbers(numbers: list[BusinessNumber]) -> list[BusinessNumber]:
    """The list unchanged, or ValueError when an id or a label is used twice."""
    ids = [number.id for number in numbers]
    labels = [number.label for number in numbers if number.label]
    if len(set(ids)) != len(ids):
        raise ValueError("each business number's id must appear once")
    if len(set(labels)) != len(labels):
        raise ValueError("each business number's label must appear once")
    if set(labels) & set(ids):
        raise ValueError("a label must not be a phone_number_id")
    return numbers


def find_number(numbers: list[BusinessNumber], id_or_label: str) -> BusinessNumber:
    """The number with this phone_number_id or label, or UnknownBusinessNumber naming
    the configured ones."""
    for number in numbers:
        if id_or_label in (number.id, number.label):
            return number
    known = ", ".join(
        f"{number.id} ({number.label})" if number.label else number.id for number in numbers
    )
    raise UnknownBusinessNumber(
        f"from: {id_or_label!r} is not a business number of this service; use one of: "
        f"{known or 'none configured'}"
    )
