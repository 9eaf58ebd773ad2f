"""A customer's number written any way reduces to Meta's digits-only form."""

from __future__ import annotations

import pytest

from app.phone import InvalidPhoneNumber, normalize_phone_number, partial_number_digits


@pytest.mark.parametrize(
    "written",
    [
        "919876543210",
        "+919876543210",
        "+91 98765-43210",
        "0091 98765 43210",
        "  (91) 98765.43210 ",
        "+91/98765/43210",
    ],
)
def test_every_way_of_writing_a_number_gives_the_same_digits(written: str) -> None:
    assert normalize_phone_number(written) == "919876543210"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "+",
        "call me",
        "91987654321O",
        "12345",
        "1234567890123456",
        "+91 98765#43210",
        "٩١٩٨٧٦٥٤٣٢١٠",
    ],
)
def test_text_that_is_not_a_number_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=r"\+91 98765 43210|6 to 15 digits"):
        normalize_phone_number(text)


@pytest.mark.parametrize(
    ("text", "digits"),
    [("+91 98765", "9198765"), ("98765-43", "9876543"), ("John", None), ("Shop 1", None)],
)
def test_partial_numbers_are_recognised_for_search(text: str, digits: str | None) -> None:
    assert partial_number_digits(text) == digits
