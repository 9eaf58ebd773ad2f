"""Customers' phone numbers, written any way people write them, reduced to Meta's form.

Meta identifies a customer by `wa_id`: the international number as digits only, without
`+` or the `00` international prefix (`919876543210`). People and client code write the
same number as `+91 98765-43210`, `0091 98765 43210` or `(91) 98765.43210`; all of those
must find the same conversation.
"""

from __future__ import annotations

import re

# Separators people put between digit groups; anything else (letters, `*`, `#`) is an error.
_SEPARATORS = re.compile(r"[\s\-./()]")
_MIN_DIGITS = 6
# E.164 allows at most 15 digits, country code included.
_MAX_DIGITS = 15


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number; the message says what a valid one looks like."""


def normalize_phone_number(value: str) -> str:
    """The number as Meta writes it (`919876543210`), or InvalidPhoneNumber.

    Accepts a leading `+` or `00` (international prefix) and spaces, dashes, dots,
    slashes and parentheses between digits.
    """
    compact = _SEPARATORS.sub("", value.strip())
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    else:
        digits = compact
    if not digits.isascii() or not digits.isdigit():
        raise InvalidPhoneNumber(
            f"{value!r} is not a phone number: use digits with an optional leading + or 00, "
            "e.g. +91 98765 43210"
        )
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        raise InvalidPhoneNumber(
            f"{value!r} is not a phone number: an international number has "
            f"{_MIN_DIGITS} to {_MAX_DIGITS} digits including the country code"
        )
    return digits


def partial_number_digits(text: str) -> str | None:
    """The digits of `text` if it is (part of) a number as people write one, else None.

    For searching: `+91 98765` gives `9198765`; `Shop 1` is not a number at all, so a
    name search for it does not also match every number containing a 1.
    """
    compact = _SEPARATORS.sub("", text.strip()).removeprefix("+")
    return compact if compact.isascii() and compact.isdigit() else None


# Meta's business-scoped user id: a country code, a dot, and letters and digits
# (`US.13491208655302741918`), for customers who use a username instead of a number.
_USER_ID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9]{1,125}$")


def is_user_id(value: str) -> bool:
    """Whether `value` is a business-scoped user id rather than a phone number."""
    return _USER_ID.match(value) is not None


def normalize_customer(value: str) -> str:
    """A customer as Meta names them: a user id as given (`US.1349…`), else the number
    in Meta's form; InvalidPhoneNumber (saying both forms) when it is neither."""
    stripped = value.strip()
    if is_user_id(stripped):
        return stripped
    try:
        return normalize_phone_number(value)
    except InvalidPhoneNumber as exc:
        raise InvalidPhoneNumber(
            f"{exc}; or give a business-scoped user id such as US.13491208655302741918"
        ) from None
