"""From a signed body to what it carries: each message, status and call validated on its own.

Meta retries a delivery it could not store for 7 days and then drops it, so one odd item
must never cost the good ones beside it. The envelope (`object`, `entry`) must be a
WhatsApp webhook, or the whole body is refused; below it, every message, status and call
is validated alone, and one that fails is recorded with its JSON path and the reason.

Nearly every delivery is well formed, so the whole body is first validated in one pass
(the fast path); only a body that fails it, or that holds a number no JSON column can
keep (NaN, Infinity, 1e999), is read again item by item.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.errors import BadRequest
from app.webhook.exceptions import MalformedJSON, NotAWhatsAppWebhook
from app.webhook.schemas import (
    WHATSAPP_OBJECT,
    Call,
    CallsChange,
    Contact,
    InboundMessage,
    MessagesChange,
    Metadata,
    MetaError,
    Status,
    Webhook,
)

M = TypeVar("M", bound=BaseModel)

_MAX_REASON = 300


@dataclass(frozen=True)
class Rejection:
    """An item of a delivery that could not be stored, and why."""

    path: str
    reason: str

    def as_json(self) -> dict[str, str]:
        """The form kept on the event and returned to the sender."""
        return {"path": self.path, "reason": self.reason}


@dataclass
class ChangeItems:
    """The valid items of one change, each with its index in the change's list."""

    path: str
    field: str
    metadata: Metadata | None = None
    contacts: list[Contact] = dataclasses.field(default_factory=list)
    # (index in the change's list, the validated item, its JSON object as sent)
    messages: list[tuple[int, InboundMessage, dict[str, Any]]] = dataclasses.field(
        default_factory=list
    )
    statuses: list[tuple[int, Status, dict[str, Any]]] = dataclasses.field(default_factory=list)
    calls: list[tuple[int, Call, dict[str, Any]]] = dataclasses.field(default_factory=list)
    errors: list[MetaError] = dataclasses.field(default_factory=list)
    entry_id: str | None = None
    # The value of a change of any other field, as sent.
    value: Any = None


@dataclass
class ParsedDelivery:
    """What a webhook body carries: its changes' valid items and the rejected ones."""

    object_: str
    fields: list[str]
    changes: list[ChangeItems]
    rejections: list[Rejection]


def parse_delivery(body: bytes) -> ParsedDelivery:
    """Read a signed body into its valid items and its rejections.

    Raises MalformedJSON or NotAWhatsAppWebhook (400) when the body as a whole is not a
    WhatsApp webhook; anything wrong below the envelope is a Rejection instead.
    """
    data, out_of_range = _load(body)
    if not out_of_range:
        try:
            webhook = Webhook.model_validate(data)
        except ValidationError:
            pass
        else:
            return _from_model(webhook, data)
    return _item_by_item(data)


def _from_model(webhook: Webhook, data: dict[str, Any]) -> ParsedDelivery:
    """The items of a body that validated whole, each with its JSON object from `data`."""
    changes: list[ChangeItems] = []
    for i, entry in enumerate(webhook.entry):
        for j, change in enumerate(entry.changes):
            items = ChangeItems(
                path=f"entry.{i}.changes.{j}.value", field=change.field, entry_id=entry.id
            )
            raw = data["entry"][i]["changes"][j]["value"]
            if isinstance(change, MessagesChange):
                value = change.value
                items.metadata = value.metadata
                items.contacts = value.contacts
                items.messages = _with_raw(value.messages, raw, "messages")
                items.statuses = _with_raw(value.statuses, raw, "statuses")
                items.errors = value.errors
            elif isinstance(change, CallsChange):
                items.metadata = change.value.metadata
                items.contacts = change.value.contacts
                items.calls = _with_raw(change.value.calls, raw, "calls")
                items.errors = change.value.errors
            else:
                items.value = change.value
            changes.append(items)
    return ParsedDelivery(WHATSAPP_OBJECT, webhook.fields, changes, [])


def _with_raw(models: list[M], value: dict[str, Any], name: str) -> list[tuple[int, M, Any]]:
    return [(k, model, value[name][k]) for k, model in enumerate(models)]


class _NumberWatch:
    """Notices, while a body is parsed, a number no JSON column can keep: NaN, Infinity,
    or a float too large (1e999). Such a body is read again item by item."""

    def __init__(self) -> None:
        self.seen = False

    def constant(self, name: str) -> float:
        self.seen = True
        return float(name)

    def float_(self, text: str) -> float:
        value = float(text)
        if math.isinf(value):
            self.seen = True
        return value


def _load(body: bytes) -> tuple[Any, bool]:
    """The parsed body, and whether it holds a number out of range."""
    watch = _NumberWatch()
    decoder = json.JSONDecoder(parse_float=watch.float_, parse_constant=watch.constant)
    try:
        # Decoded as json.loads decodes bytes: UTF-8, -16 or -32, by the first bytes.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
        return decoder.decode(text), watch.seen
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedJSON(f"the body is not valid JSON: {_short(str(exc))}") from None


def _envelope(data: Any) -> list[Any]:
    """The `entry` list of a WhatsApp webhook, or the 400 that says what is not one."""
    expected = f'expected {{"object": "{WHATSAPP_OBJECT}", "entry": [...]}}'
    if not isinstance(data, dict):
        raise NotAWhatsAppWebhook(f"not a WhatsApp webhook ({expected}): body: not an object")
    if data.get("object") != WHATSAPP_OBJECT:
        raise NotAWhatsAppWebhook(
            f"not a WhatsApp webhook ({expected}): object: is {_short(repr(data.get('object')))}"
        )
    entry = data.get("entry")
    if not isinstance(entry, list):
        raise NotAWhatsAppWebhook(f"not a WhatsApp webhook ({expected}): entry: not a list")
    return entry


def _item_by_item(data: Any) -> ParsedDelivery:
    entries = _envelope(data)
    rejections: list[Rejection] = []
    changes: list[ChangeItems] = []
    fields: dict[str, None] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            rejections.append(Rejection(f"entry.{i}", "not an object"))
            continue
        entry_changes = entry.get("changes", [])
        if not isinstance(entry_changes, list):
            rejections.append(Rejection(f"entry.{i}.changes", "not a list"))
            continue
        entry_id = entry.get("id")
        for j, change in enumerate(entry_changes):
            path = f"entry.{i}.changes.{j}"
            if not isinstance(change, dict):
                rejections.append(Rejection(path, "not an object"))
                continue
            field_ = change.get("field", "messages")
            if not isinstance(field_, str):
                rejections.append(Rejection(f"{path}.field", "not a string"))
                continue
            fields.setdefault(field_, None)
            items = ChangeItems(
                path=f"{path}.value",
                field=field_,
                entry_id=str(entry_id) if isinstance(entry_id, str | int) else None,
            )
            if field_ in ("messages", "calls"):
                _read_value(change.get("value"), items, rejections)
            else:
                items.value = change.get("value")
            changes.append(items)
    return ParsedDelivery(WHATSAPP_OBJECT, list(fields), changes, rejections)


def _read_value(value: Any, items: ChangeItems, rejections: list[Rejection]) -> None:
    """Fill `items` with the valid parts of a messages or calls change's value."""
    if not isinstance(value, dict):
        rejections.append(Rejection(items.path, "not an object"))
        return
    lists = ("messages", "statuses") if items.field == "messages" else ("calls",)
    metadata = value.get("metadata")
    if metadata is not None:
        found = _validate(Metadata, metadata, f"{items.path}.metadata", rejections)
        if found is None:
            # Without its business number no item of the change can be placed.
            for name in lists:
                for k, _item in enumerate(_as_list(value.get(name))):
                    rejections.append(
                        Rejection(f"{items.path}.{name}.{k}", "the change's metadata is invalid")
                    )
            return
        items.metadata = found
    contacts = _valid_items(Contact, value, "contacts", items.path, rejections)
    items.contacts = [contact for _, contact, _raw in contacts]
    errors = _valid_items(MetaError, value, "errors", items.path, rejections)
    items.errors = [error for _, error, _raw in errors]
    if items.field == "messages":
        items.messages = _valid_items(InboundMessage, value, "messages", items.path, rejections)
        items.statuses = _valid_items(Status, value, "statuses", items.path, rejections)
    else:
        items.calls = _valid_items(Call, value, "calls", items.path, rejections)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _valid_items(
    model: type[M], value: dict[str, Any], name: str, path: str, rejections: list[Rejection]
) -> list[tuple[int, M, Any]]:
    """The items of `value[name]` that validate as `model`, with their indexes and JSON."""
    raw = value.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        rejections.append(Rejection(f"{path}.{name}", "not a list"))
        return []
    valid = []
    for k, item in enumerate(raw):
        found = _validate(model, item, f"{path}.{name}.{k}", rejections)
        if found is not None:
            valid.append((k, found, item))
    return valid


def _validate(model: type[M], data: Any, path: str, rejections: list[Rejection]) -> M | None:
    """`data` as `model`, or None with a Rejection naming the first thing wrong."""
    bad_number = _non_finite(data)
    if bad_number is not None:
        where = f"{path}.{bad_number}" if bad_number else path
        rejections.append(Rejection(where, "a number out of range (NaN, Infinity or too large)"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join([path, *(str(part) for part in error["loc"])])
        rejections.append(Rejection(where, _short(error["msg"])))
        return None


def _non_finite(data: Any) -> str | None:
    """The relative path of the first NaN or infinite number in `data` ("" for itself)."""
    if isinstance(data, float):
        return None if math.isfinite(data) else ""
    children = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else ()
    )
    for key, child in children:
        found = _non_finite(child)
        if found is not None:
            return f"{key}.{found}" if found else str(key)
    return None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def refusal_json(error: BadRequest) -> list[dict[str, str]]:
    """The rejection a refused body is logged with."""
    return [Rejection("body", error.detail).as_json()]
