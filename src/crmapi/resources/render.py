"""The list envelope and ``_fields`` projection, shared by every resource."""

from collections.abc import Mapping
from typing import Any

from crmapi.query import grammar
from crmapi.query.model import ListQuery


def project(obj: dict[str, Any], params: Mapping[str, str]) -> dict[str, Any]:
    """Apply ``_fields`` to a single object (unknown names are ignored, as Close does)."""
    names = grammar.field_names(params.get("_fields"))
    if names is None:
        return obj
    return {k: v for k, v in obj.items() if k in names}


def listing(items: list[dict[str, Any]], query: ListQuery, **extra: Any) -> dict[str, Any]:
    """``{"data": [...], "has_more": ...}`` from a page fetched with one extra row."""
    has_more = len(items) > query.limit
    items = items[: query.limit]
    if query.fields is not None:
        fields = query.fields
        items = [{k: v for k, v in item.items() if k in fields} for item in items]
    return {"data": items, "has_more": has_more, **extra}
