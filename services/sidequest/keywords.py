"""Keyword arguments in a payload's `args`, written as ActiveJob writes them. Pure, no I/O.

ActiveJob serializes `perform_later(1, format: "pdf")` as the positional arguments and a
trailing hash whose `_aj_ruby2_keywords` lists the keyword names (Ruby's flag for "these
were keywords"; activejob 6.1 `arguments.rb`, `serialize_argument`):

    "args": [1, {"format": "pdf", "_aj_ruby2_keywords": ["format"]}]

Its `deserialize_hash` turns such a hash back into keywords (symbol keys, flagged), so
`perform(*arguments)` receives them as keywords. We write and read the same form, so
keyword arguments cross between Ruby's ActiveJob and sidequest in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the key of the trailing hash that lists the keyword names
MARKER = "_aj_ruby2_keywords"

#: keys ActiveJob reads as its own markers and refuses in arguments (RESERVED_KEYS): a
#: keyword of one of these names would come back out of Redis as something else
RESERVED = frozenset(
    {
        "_aj_globalid",
        "_aj_symbol_keys",
        MARKER,
        "_aj_hash_with_indifferent_access",
        "_aj_serialized",
    }
)


def encode(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """`args` followed by the marked keyword hash; `args` itself when there are none.

    The names are sorted (ActiveJob keeps the call's order, which no reader depends on)
    so that `f(a=1, b=2)` and `f(b=2, a=1)` store the same arguments and a unique job's
    digest does not depend on the order its keywords were written in.
    """
    if not kwargs:
        return args
    names = sorted(kwargs)
    marked: dict[str, Any] = {name: kwargs[name] for name in names}
    marked[MARKER] = names
    return [*args, marked]


def is_marked(value: object) -> bool:
    """Whether `value` is a keyword hash (a dict listing its names under MARKER)."""
    return type(value) is dict and isinstance(value.get(MARKER), list)


def split(args: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """(positional, keywords) of stored arguments: the last one may be the keyword hash.

    Every key of the hash but the marker is a keyword: Ruby lists only its symbol keys,
    but a string key in a keyword hash is a keyword in Ruby 3 as well.
    """
    if args and is_marked(args[-1]):
        return args[:-1], {name: value for name, value in args[-1].items() if name != MARKER}
    return args, {}
