"""Snapshot every read the API serves over a fresh demo database, deterministically.

A regression check for refactors that must not change behaviour (issue #13): run it before and
after, and diff the two files; they must be identical.

    .venv/bin/python scripts/api_snapshot.py /tmp/before.json
    .venv/bin/python scripts/api_snapshot.py /tmp/after.json
    cmp /tmp/before.json /tmp/after.json

What makes it deterministic (only inside this script's process):
- ids: ``crmapi.util.ids.new_id``/``new_secret`` get a counter instead of ``secrets`` (the
  function objects are patched in place, so every ``from ... import new_id`` sees it); the
  counter is zero-padded, so id order is creation order and ties broken by id stay put;
- time: every ``datetime`` name bound in a ``crmapi`` module is replaced by a subclass whose
  ``now()`` is a fixed moment (the demo's end, ``dates.now()``, the event clock);
- request ids (stored in events) come from the same counter.

It then walks every list path of ``/openapi.json`` (every page, or the cursor for ``/event/``),
every object of every list through its item path, a few per-lead feeds, and a 404 per item path;
each response is stored with its status and body.
"""

import importlib
import itertools
import pkgutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

import crmapi
from crmapi.util import ids

FIXED_NOW = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> "_FixedDatetime":  # type: ignore[override]
        m = FIXED_NOW
        base = cls(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=UTC)
        return base.astimezone(tz) if tz else base.replace(tzinfo=None)


_COUNTER = itertools.count(1)


def _counted(prefix: str, length: int = 0) -> str:
    size = length or (22 if prefix in ids._SHORT_FAMILIES else 43)
    return f"{prefix}_" + str(next(_COUNTER)).zfill(size)


def _det_new_id(prefix: str) -> str:
    return _SNAPSHOT_COUNTED(prefix)  # type: ignore[name-defined]  # noqa: F821


def _det_new_secret(prefix: str, length: int = 40) -> str:
    return _SNAPSHOT_COUNTED(prefix, length)  # type: ignore[name-defined]  # noqa: F821


def _make_deterministic() -> None:
    for info in pkgutil.walk_packages(crmapi.__path__, "crmapi."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name, module in list(sys.modules.items()):
        in_crmapi = name == "crmapi" or name.startswith("crmapi.")
        if in_crmapi and getattr(module, "datetime", None) is datetime:
            module.datetime = _FixedDatetime  # type: ignore[attr-defined]
    # Patch the function objects themselves: modules hold references to them.
    ids.__dict__["_SNAPSHOT_COUNTED"] = _counted
    ids.new_id.__code__ = _det_new_id.__code__
    ids.new_secret.__code__ = _det_new_secret.__code__
    from crmapi.http import endpoint

    endpoint.__dict__["request_id"].__code__ = (lambda: ids.new_id("req")).__code__
    endpoint.__dict__["ids"] = ids


def _list_paths(doc: dict[str, Any]) -> list[str]:
    out = []
    for path, item in doc["paths"].items():
        if "get" in item and "{" not in path:
            out.append(path.removeprefix("/api/v1"))
    return sorted(out)


def _item_paths(doc: dict[str, Any]) -> list[str]:
    out = []
    for path, item in doc["paths"].items():
        if "get" in item and path.endswith("{id}/"):
            out.append(path.removeprefix("/api/v1"))
    return sorted(out)


def main(out: Path) -> None:
    _make_deterministic()
    from starlette.testclient import TestClient

    from crmapi import seed
    from crmapi.app import create_app
    from crmapi.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/snapshot.db",
            auth_cache_seconds=0,
            background_workers=False,
            rate_limit_per_key=0,
        )
        app = create_app(settings)
        with app.state.db.write() as conn:
            key = seed.demo(conn).key
        with TestClient(app, base_url="http://testserver") as client:
            snapshot = _walk(client, key)
        app.state.db.dispose()
    out.write_bytes(orjson.dumps(snapshot, option=orjson.OPT_INDENT_2))
    print(f"{len(snapshot)} responses written to {out}")


def _walk(client: Any, key: str) -> dict[str, Any]:
    auth = (key, "")
    snapshot: dict[str, Any] = {}

    def get(path: str, **params: Any) -> Any:
        response = client.get("/api/v1" + path, params=params, auth=auth)
        label = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
        snapshot[label] = {"status": response.status_code, "body": response.json()}
        return response.json()

    doc = client.get("/api/v1/openapi.json").json()
    snapshot["/openapi.json"] = {"status": 200, "body": doc}
    objects: dict[str, list[str]] = {}
    variants: dict[str, list[dict[str, Any]]] = {"/task/": [{}, {"_type": "all"}]}
    for path in _list_paths(doc):
        for extra in variants.get(path, [{}]):
            objects.setdefault(path, []).extend(_all_pages(get, path, extra))
    me = get("/me/")
    get(f"/organization/{me['organizations'][0]['id']}/")
    for path in _item_paths(doc):
        collection = path.removesuffix("{id}/")
        for object_id in dict.fromkeys(objects.get(collection, [])):
            get(collection + object_id + "/")
        get(collection + "nope_0000/")
    for lead_id in objects.get("/lead/", [])[:5]:
        _all_pages(get, "/activity/", {"lead_id": lead_id})
        _all_pages(get, "/activity/", {"lead_id": lead_id, "_order_by": "-activity_at"})
    return snapshot


def _all_pages(get: Any, path: str, extra: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if path == "/event/":
        params: dict[str, Any] = {**extra, "_limit": 50}
        while True:
            page = get(path, **params)
            found += [o["id"] for o in page.get("data", []) if isinstance(o, dict) and "id" in o]
            cursor = page.get("cursor_next")
            if not cursor:
                return found
            params = {**extra, "_limit": 50, "_cursor": cursor}
    skip = 0
    while True:
        page = get(path, **extra, _skip=skip, _limit=100)
        data = page.get("data", [])
        found += [o["id"] for o in data if isinstance(o, dict) and "id" in o]
        if not page.get("has_more") or not data:
            return found
        skip += len(data)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/api-snapshot.json"))
