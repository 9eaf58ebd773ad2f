"""What a template needs filled in, whether a send fills it right, and the text it gives.

Meta describes a template as components (HEADER, BODY, FOOTER, BUTTONS) whose texts hold
placeholders: `{{1}}`, `{{2}}` (positional) or `{{first_name}}` (named). A send fills
them with components of its own: `header` and `body` with one parameter per placeholder
(a media header with one image, video or document), and a `button` component (with its
`sub_type` and `index`) for each URL button with a placeholder and each copy-code button.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document", "LOCATION": "location"}
# Kinds Meta accepts where a text placeholder stands.
TEXT_KINDS = frozenset({"text", "currency", "date_time"})


@dataclass(frozen=True)
class Slot:
    """One parameter a template needs: the send component it goes in, its kind, its name."""

    component: str  # "header", "body" or "button <index>"
    kind: str  # text, image, video, document, location, coupon_code
    name: str  # the placeholder (`1`, `first_name`), or the media kind
    sub_type: str | None = None
    index: int | None = None

    @property
    def label(self) -> str:
        """How a person reads it: `body {{1}}`, `header image`, `button 0 {{1}}`."""
        if self.kind in MEDIA_FORMATS.values():
            return f"{self.component} {self.kind}"
        if self.kind == "coupon_code":
            return f"{self.component} coupon code"
        return f"{self.component} {{{{{self.name}}}}}"


def placeholders(text: str | None) -> list[str]:
    """The distinct placeholders of a text, in the order their parameters are given:
    by number when positional (`{{2}} … {{1}}` takes the first for {{1}}), else as
    they first appear."""
    names = list(dict.fromkeys(_PLACEHOLDER.findall(text or "")))
    return sorted(names, key=int) if all(name.isdigit() for name in names) else names


def _component(components: Sequence[Any], kind: str) -> Mapping[str, Any] | None:
    for component in components:
        if isinstance(component, Mapping) and str(component.get("type", "")).upper() == kind:
            return component
    return None


def slots(components: Sequence[Any]) -> list[Slot]:
    """Every parameter the template with these (Meta's) components needs, in send order."""
    found: list[Slot] = []
    header = _component(components, "HEADER")
    if header is not None:
        media = MEDIA_FORMATS.get(str(header.get("format", "TEXT")).upper())
        if media is not None:
            found.append(Slot("header", media, media))
        else:
            found += [Slot("header", "text", n) for n in placeholders(header.get("text"))]
    body = _component(components, "BODY")
    if body is not None:
        found += [Slot("body", "text", n) for n in placeholders(body.get("text"))]
    buttons = _component(components, "BUTTONS")
    for index, button in enumerate(buttons.get("buttons", []) if buttons else []):
        if not isinstance(button, Mapping):
            continue
        kind = str(button.get("type", "")).upper()
        where = f"button {index}"
        if kind == "URL":
            found += [Slot(where, "text", n, "url", index) for n in placeholders(button.get("url"))]
        elif kind == "COPY_CODE":
            found.append(Slot(where, "coupon_code", "coupon_code", "copy_code", index))
    return found


def _describe(expected: Sequence[Slot]) -> str:
    if not expected:
        return "no parameters"
    return ", ".join(slot.label for slot in expected)


def _given_key(component: Mapping[str, Any]) -> str:
    kind = str(component.get("type", "")).lower()
    if kind == "button":
        return f"button {component.get('index')}"
    return kind


def _kind_fits(slot: Slot, parameter: Any) -> bool:
    if not isinstance(parameter, Mapping):
        return False
    kind = str(parameter.get("type", "")).lower()
    if slot.kind == "text":
        return kind in TEXT_KINDS
    if slot.kind == "coupon_code":
        return kind == "coupon_code"
    return kind == slot.kind


def mismatch(expected: Sequence[Slot], components: Sequence[Mapping[str, Any]]) -> str | None:
    """What is wrong with a send's components for a template needing `expected`, or None.

    Quick-reply buttons carry an optional payload and are not checked.
    """
    wanted: dict[str, list[Slot]] = {}
    for slot in expected:
        wanted.setdefault(slot.component, []).append(slot)
    given: dict[str, list[Any]] = {}
    for component in components:
        if str(component.get("sub_type", "")).lower() == "quick_reply":
            continue
        parameters = component.get("parameters", [])
        given[_given_key(component)] = parameters if isinstance(parameters, list) else []
    needs = f"it needs {_describe(expected)}"
    for key in given.keys() - wanted.keys():
        if given[key]:
            return f"the template has no parameters in {key}; {needs}"
    for key, key_slots in wanted.items():
        parameters = given.get(key, [])
        if len(parameters) != len(key_slots):
            return f"{key} has {len(parameters)} parameter(s), expected {len(key_slots)}; {needs}"
        for slot, parameter in zip(key_slots, parameters, strict=True):
            if not _kind_fits(slot, parameter):
                got = parameter.get("type") if isinstance(parameter, Mapping) else parameter
                return f"{slot.label} must be a parameter of type {slot.kind}, not {got!r}; {needs}"
    return None


def _value(parameter: Mapping[str, Any]) -> str:
    kind = str(parameter.get("type", "")).lower()
    if kind == "text":
        return str(parameter.get("text", ""))
    detail = parameter.get(kind)
    if isinstance(detail, Mapping):
        return str(detail.get("fallback_value", ""))
    return ""


def _fill(text: str, names: Sequence[str], parameters: Sequence[Any], named: bool) -> str:
    values: dict[str, str] = {}
    for position, parameter in enumerate(parameters):
        if not isinstance(parameter, Mapping):
            continue
        key = str(parameter.get("parameter_name")) if named else None
        name = key or (names[position] if position < len(names) else str(position + 1))
        values[name] = _value(parameter)
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render(template: Sequence[Any], components: Sequence[Mapping[str, Any]]) -> str:
    """The text the customer reads: header, body and footer with the parameters filled in."""
    given = {_given_key(c): c.get("parameters", []) for c in components}
    parts = []
    for kind in ("HEADER", "BODY", "FOOTER"):
        component = _component(template, kind)
        text = component.get("text") if component else None
        if not isinstance(text, str) or not text:
            continue
        names = placeholders(text)
        named = any(not name.isdigit() for name in names)
        parameters = given.get(kind.lower(), [])
        parts.append(_fill(text, names, parameters if isinstance(parameters, list) else [], named))
    return "\n\n".join(parts)


def _parameter(slot: Slot, value: str, named: bool) -> dict[str, Any]:
    if slot.kind in MEDIA_FORMATS.values():
        return {"type": slot.kind, slot.kind: {"link": value}}
    if slot.kind == "coupon_code":
        return {"type": "coupon_code", "coupon_code": value}
    parameter: dict[str, Any] = {"type": "text", "text": value}
    if named:
        parameter["parameter_name"] = slot.name
    return parameter


def components_for(expected: Sequence[Slot], values: Sequence[str]) -> list[dict[str, Any]]:
    """A send's components filling the `expected` parameters with `values`, in order
    (text, a media link, or a coupon code, as each slot needs)."""
    named = any(not slot.name.isdigit() for slot in expected if slot.kind == "text")
    components: dict[str, dict[str, Any]] = {}
    for slot, value in zip(expected, values, strict=True):
        component = components.get(slot.component)
        if component is None:
            component = {"type": "button" if slot.index is not None else slot.component}
            if slot.index is not None:
                component |= {"sub_type": slot.sub_type, "index": str(slot.index)}
            component["parameters"] = []
            components[slot.component] = component
        component["parameters"].append(_parameter(slot, value, named))
    return list(components.values())
