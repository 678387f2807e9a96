"""One JSON encoder for the whole server (orjson: fast, and strict about types)."""

from typing import Any

import orjson

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """Encode ``value`` with sorted keys, as Close's responses are ordered."""
    return orjson.dumps(value, option=_OPTIONS)


def dumps_str(value: Any) -> str:
    """Encode ``value`` for storage in a text or JSON column."""
    return orjson.dumps(value).decode()


loads = orjson.loads
