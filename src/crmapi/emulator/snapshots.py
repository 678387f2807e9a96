"""Named snapshots: of one organization (its own key, ``/_crmapi/orgs/{org}/snapshots``) or
of several (admin, ``/_crmapi/snapshots``), restored in place or as new organizations.

Files live under ``CRMAPI_SNAPSHOT_DIR``: ``orgs/<org>/<name>.jsonl`` for an organization's
own (a key can neither read nor overwrite another organization's), ``global/<name>.jsonl``
for the admin's. The format is in ``snapshot_io``.
"""

import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator import _body, orgtime, snapshot_io
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.storage import tables as t

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_NAME_PROPERTY = {"name": {"type": "string", "pattern": _NAME.pattern}}
NAME_SCHEMA = {"type": "object", "required": ["name"], "properties": _NAME_PROPERTY}
_ORGS_PROPERTY = {
    "orgs": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}]}
}
RESTORE_SCHEMA = {
    "type": "object",
    "properties": {
        "dry_run": {"type": "boolean", "description": "Report the differences, change nothing"},
        "as_new_org": {"type": "boolean", "description": "New organizations, new ids (admin)"},
    },
}


def _name(value: str | None) -> str:
    if not value or not _NAME.match(value):
        raise InvalidRequest(
            field_errors={"name": "1-100 letters, digits, '.', '_' or '-' (not first)."}
        )
    return value


def root(ctx: PlaneCtx) -> Path:
    return Path(ctx.settings.snapshot_dir)


def org_path(ctx: PlaneCtx, name: str) -> Path:
    return root(ctx) / "orgs" / ctx.org / f"{_name(name)}.jsonl"


def global_path(ctx: PlaneCtx, name: str) -> Path:
    return root(ctx) / "global" / f"{_name(name)}.jsonl"


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise NotFound("Snapshot does not exist.")
    return path


def _describe(path: Path) -> dict[str, Any]:
    snap = snapshot_io.read_file(path)
    return {**snap.manifest, "name": path.stem, "size": path.stat().st_size}


def save(ctx: PlaneCtx, path: Path, orgs: list[str]) -> dict[str, Any]:
    with ctx.db.read() as conn:
        per_org = [snapshot_io.dump(conn, org) for org in orgs]
        missing = [org for org, rows in zip(orgs, per_org, strict=True) if not rows["organization"]]
        if missing:
            raise InvalidRequest(field_errors={"orgs": f"No organization {missing[0]}."})
        manifest = snapshot_io.manifest_for(conn, path.stem, per_org)
    snapshot_io.write_file(path, snapshot_io.encode(manifest, per_org))
    return _describe(path)


def restore_file(ctx: PlaneCtx, path: Path, org: str, dry_run: bool = False) -> dict[str, Any]:
    """Restore the organization ``org`` from a snapshot holding it."""
    snap = snapshot_io.read_file(_existing(path))
    by_org = snapshot_io.split_by_org(snap)
    if org not in by_org:
        raise InvalidRequest([f"The snapshot does not hold organization {org}."])
    if dry_run:
        with ctx.db.read() as conn:
            current = snapshot_io.dump(conn, org)
        return {"dry_run": True, "organization_id": org,
                "changes": snapshot_io.diff(current, by_org[org])}  # fmt: skip
    with ctx.db.write() as conn:
        snapshot_io.restore_template(conn, snapshot_io.template(snap, org), rename=False)
    ctx.request.app.state.auth.forget()
    orgtime.forget(org)
    return {"dry_run": False, "organization_id": org}


# Organization-scoped


def org_save(ctx: PlaneCtx) -> dict[str, Any]:
    name = _name(_body.text(_body.obj(ctx.body), "name"))
    return save(ctx, org_path(ctx, name), [ctx.org])


def org_list(ctx: PlaneCtx) -> dict[str, Any]:
    folder = root(ctx) / "orgs" / ctx.org
    return {"data": [_describe(p) for p in sorted(folder.glob("*.jsonl"))]}


def org_get(ctx: PlaneCtx) -> dict[str, Any]:
    return _describe(_existing(org_path(ctx, ctx.path_params["name"])))


def org_delete(ctx: PlaneCtx) -> None:
    _existing(org_path(ctx, ctx.path_params["name"])).unlink()


def org_restore(ctx: PlaneCtx) -> dict[str, Any]:
    body = _body.obj(ctx.body)
    if _body.flag(body, "as_new_org"):
        raise InvalidRequest(["Restoring as a new organization is an admin operation "
                              "(POST /_crmapi/snapshots/{name}/restore)."])  # fmt: skip
    path = org_path(ctx, ctx.path_params["name"])
    return restore_file(ctx, path, ctx.org, _body.flag(body, "dry_run"))


def drop_org_snapshots(ctx: PlaneCtx) -> None:
    shutil.rmtree(root(ctx) / "orgs" / ctx.org, ignore_errors=True)


# Global (admin)


def _every_org(ctx: PlaneCtx) -> list[str]:
    o = t.organization
    with ctx.db.read() as conn:
        return list(conn.execute(select(o.c.id).order_by(o.c.date_created, o.c.id)).scalars())


def global_save(ctx: PlaneCtx) -> dict[str, Any]:
    body = _body.obj(ctx.body)
    name = _name(_body.text(body, "name"))
    orgs = body.get("orgs")
    if orgs == "all":
        orgs = _every_org(ctx)
    if not isinstance(orgs, list) or not orgs or not all(isinstance(o, str) for o in orgs):
        raise InvalidRequest(field_errors={"orgs": 'A list of organization ids, or "all".'})
    return save(ctx, global_path(ctx, name), orgs)


def global_list(ctx: PlaneCtx) -> dict[str, Any]:
    return {"data": [_describe(p) for p in sorted((root(ctx) / "global").glob("*.jsonl"))]}


def global_get(ctx: PlaneCtx) -> dict[str, Any]:
    return _describe(_existing(global_path(ctx, ctx.path_params["name"])))


def global_delete(ctx: PlaneCtx) -> None:
    _existing(global_path(ctx, ctx.path_params["name"])).unlink()


def global_restore(ctx: PlaneCtx) -> dict[str, Any]:
    """Every organization of the snapshot: in place, or each as a new organization."""
    body = _body.obj(ctx.body)
    path = _existing(global_path(ctx, ctx.path_params["name"]))
    dry_run, as_new = _body.flag(body, "dry_run"), _body.flag(body, "as_new_org")
    by_org = snapshot_io.split_by_org(snapshot_io.read_file(path))
    if as_new:
        if dry_run:
            empty: dict[str, list[dict[str, Any]]] = {}
            return {"dry_run": True, "organizations": [
                {"source": org, "changes": snapshot_io.diff(empty, rows)}
                for org, rows in by_org.items()
            ]}  # fmt: skip
        snap = snapshot_io.read_file(path)
        with ctx.db.write() as conn:
            created = [
                {"source": org, **snapshot_io.restore_as_new(conn, snapshot_io.template(snap, org))}
                for org in by_org
            ]
        return {"dry_run": False, "organizations": created}
    results = [restore_file(ctx, path, org, dry_run) for org in by_org]
    return {"dry_run": dry_run, "organizations": results}


_NAMED = "/snapshots/{name}"
OPS = [
    PlaneOp("POST", "/orgs/{org}/snapshots", org_save, "org", "Snapshot this organization",
            status=201, body_schema=NAME_SCHEMA),
    PlaneOp("GET", "/orgs/{org}/snapshots", org_list, "org", "This organization's snapshots"),
    PlaneOp("GET", "/orgs/{org}" + _NAMED, org_get, "org", "A snapshot's manifest"),
    PlaneOp("DELETE", "/orgs/{org}" + _NAMED, org_delete, "org", "Delete a snapshot", status=204),
    PlaneOp("POST", "/orgs/{org}" + _NAMED + "/restore", org_restore, "org",
            "Restore this organization from its snapshot (or report the differences)",
            body_schema=RESTORE_SCHEMA),
    PlaneOp("POST", "/snapshots", global_save, "admin", "Snapshot organizations", status=201,
            body_schema={**NAME_SCHEMA, "properties": {**_NAME_PROPERTY, **_ORGS_PROPERTY}}),
    PlaneOp("GET", "/snapshots", global_list, "admin", "Snapshots of several organizations"),
    PlaneOp("GET", _NAMED, global_get, "admin", "A snapshot's manifest"),
    PlaneOp("DELETE", _NAMED, global_delete, "admin", "Delete a snapshot", status=204),
    PlaneOp("POST", _NAMED + "/restore", global_restore, "admin",
            "Restore a snapshot's organizations in place, or as new organizations with new ids",
            body_schema=RESTORE_SCHEMA),
]  # fmt: skip
