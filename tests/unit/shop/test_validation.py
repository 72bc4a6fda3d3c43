"""Single-value checks: e-mail addresses, ISO dates, display names."""

from __future__ import annotations

from datetime import date

import pytest

from shop.validation import clean_display_name, normalize_email, parse_iso_date


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ada@example.org", "ada@example.org"),
        ("  Ada.Lovelace+shop@Example.ORG ", "Ada.Lovelace+shop@example.org"),
        ("o'brien@mail.example.co.uk", "o'brien@mail.example.co.uk"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, clean: str) -> None:
    assert normalize_email(raw) == clean


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "must be a string"),
        (42, "must be a string"),
        ("", "is required"),
        ("   ", "is required"),
        ("ada", "must look like"),
        ("@example.org", "must look like"),
        ("ada@", "must look like"),
        ("ada@localhost", "invalid domain"),
        ("ada@-example.org", "invalid domain"),
        ("ada@exa_mple.org", "invalid domain"),
        ("a da@example.org", "invalid characters"),
        (".ada@example.org", "invalid characters"),
        ("a..da@example.org", "invalid characters"),
        ("ada\n@example.org", "invalid characters"),
        ("Ada <ada@example.org>", "invalid characters"),
        ("x" * 65 + "@example.org", "longer than 64"),
        ("a@" + "b" * 250 + ".org", "longer than 254"),
    ],
)
def test_invalid_addresses_say_what_is_wrong(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_email(raw)


def test_dates_must_be_written_exactly_as_yyyy_mm_dd() -> None:
    assert parse_iso_date("2024-02-29") == date(2024, 2, 29)
    assert parse_iso_date(" 2024-02-29 ") == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2023-02-29", "not a real calendar date"),
        ("2024-13-01", "not a real calendar date"),
        ("20240105", "not a date in the form YYYY-MM-DD"),
        ("2024-W01-5", "not a date in the form YYYY-MM-DD"),
        ("2024-1-5", "not a date in the form YYYY-MM-DD"),
        ("2024-01-05T00:00", "not a date in the form YYYY-MM-DD"),
        ("yesterday", "not a date in the form YYYY-MM-DD"),
        (20240105, "must be a date string"),
        (None, "must be a date string"),
    ],
)
def test_other_date_forms_are_refused(raw: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_iso_date(raw)


def test_names_are_tidied_and_checked() -> None:
    assert clean_display_name("  Ada \t  Lovelace ", max_length=100) == "Ada Lovelace"
    assert clean_display_name("Zoë 李", max_length=100) == "Zoë 李"
    for raw, reason in [
        ("", "is required"),
        ("   ", "is required"),
        ("x" * 101, "longer than 100"),
        ("Ada\x00", "control characters"),
        ("Ada\u202eevil", "control characters"),
        (["Ada"], "must be a string"),
    ]:
        with pytest.raises(ValueError, match=reason):
            clean_display_name(raw, max_length=100)
