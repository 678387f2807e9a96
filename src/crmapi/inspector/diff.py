"""What an event changed, field by field: ``previous_data`` against ``data``, descending into
objects and lists so a changed contact shows as that contact's changed keys, not two walls
of JSON. Objects in a list are matched by their ``id`` when they have one."""

from typing import Any

Change = tuple[str, Any, Any]  # (path, before, after); a missing side is None
MAX_CHANGES = 200  # a page stays readable; the raw JSON beside it has everything


def _ids(items: list[Any]) -> dict[str, Any] | None:
    if items and all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        return {i["id"]: i for i in items}
    return None


def _walk(path: str, before: Any, after: Any, out: list[Change]) -> None:
    if before == after or len(out) >= MAX_CHANGES:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            _walk(f"{path}.{key}" if path else str(key), before.get(key), after.get(key), out)
        return
    if isinstance(before, list) and isinstance(after, list) and before and after:
        old, new = _ids(before), _ids(after)
        if old is not None and new is not None:
            for key in [*old, *(k for k in new if k not in old)]:
                _walk(f"{path}[{key}]", old.get(key), new.get(key), out)
            return
        if len(before) == len(after):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                _walk(f"{path}[{i}]", b, a, out)
            return
    out.append((path, before, after))


def changes(event: dict[str, Any]) -> list[Change]:
    """Leaves that differ; for a created or deleted object, each of its top-level fields."""
    data = event.get("data") or {}
    previous = event.get("previous_data") or {}
    out: list[Change] = []
    if not previous:
        return [(k, None, v) for k, v in sorted(data.items())][:MAX_CHANGES]
    keys = event.get("changed_fields") or sorted(set(previous) | set(data))
    for key in keys:
        _walk(key, previous.get(key), data.get(key), out)
    return out
