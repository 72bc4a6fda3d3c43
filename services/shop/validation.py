"""Checks on single untrusted values, shared by every input validator in the domain.

Each function returns the normalised value or raises ValueError with a message meant
for the person who typed the value; the callers attach the field name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
# Used with fullmatch: `$` would also match before a trailing newline.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def normalize_email(value: object) -> str:
    """Check an e-mail address and return it stripped, with its domain lower-cased.

    Only the plain `local@domain` form is accepted (no display names, no quoted local
    parts, ASCII only) because the address is stored, compared for uniqueness and put
    into SMTP envelopes as is.

    Args:
        value: The untrusted value.

    Returns:
        The address with surrounding blanks removed and the domain in lower case.

    Raises:
        ValueError: The value is not a usable e-mail address.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    address = value.strip()
    if not address:
        raise ValueError("is required")
    if len(address) > MAX_EMAIL_LENGTH:
        raise ValueError(f"is longer than {MAX_EMAIL_LENGTH} characters")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValueError("must look like name@example.com")
    if len(local) > MAX_LOCAL_PART_LENGTH:
        raise ValueError(f"has a part before @ longer than {MAX_LOCAL_PART_LENGTH} characters")
    if (
        not _LOCAL_PART.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise ValueError("has invalid characters before the @")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise ValueError("has an invalid domain after the @")
    return f"{local}@{domain.lower()}"


def parse_iso_date(value: object) -> date:
    """Parse a calendar date written exactly as YYYY-MM-DD.

    `date.fromisoformat` alone would also take forms such as 20240105 or 2024-W01-5,
    which a user most likely did not mean; the pattern check keeps the format strict.

    Raises:
        ValueError: The value is not a string in that format or not a real date.
    """
    if not isinstance(value, str):
        raise ValueError("must be a date string in the form YYYY-MM-DD")
    text = value.strip()
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{value!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a real calendar date") from None


def clean_display_name(value: object, *, max_length: int) -> str:
    """Check a person's name: a non-blank string without control characters.

    Inner runs of white space are collapsed to one space so that names render the
    same in mail headers, HTML and plain text.

    Raises:
        ValueError: The value is missing, too long or contains control characters.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    name = " ".join(value.split())
    if not name:
        raise ValueError("is required")
    if len(name) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("contains control characters")
    return name
