"""``/_crmapi/orgs``: organizations on demand (a seed pack, a clock, deterministic ids),
listed and deleted; ``/_crmapi/orgs/{org}/reset`` puts one back to empty, its seed, or a
snapshot."""

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select

from crmapi import demo_story, seed
from crmapi.domain import clock
from crmapi.domain.clock import OrgClock
from crmapi.domain.errors import InvalidRequest, NotFound
from crmapi.emulator import _body, snapshot_io, snapshots
from crmapi.emulator.clock import CLOCK_SCHEMA, forget, parse_clock
from crmapi.emulator.plane import PlaneCtx, PlaneOp
from crmapi.resources import accounts
from crmapi.storage import tables as t
from crmapi.util import dates, ids

PACKS = ("empty", "demo")
MAX_SIZE = 100_000
CREATE_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "email": {"type": "string", "description": "The first user's email"},
        "seed_pack": {
            "oneOf": [{"enum": list(PACKS)}, {"type": "integer", "minimum": 1}],
            "description": "empty, demo, or a number of activities to generate",
        },
        "clock": CLOCK_SCHEMA,
        "seed": {"type": "integer", "description": "Makes generated ids deterministic"},
    },
}


def _pack(body: dict[str, Any]) -> str | int:
    pack: Any = body.get("seed_pack", "empty")
    if isinstance(pack, str) and pack.isdigit():
        pack = int(pack)
    if pack in PACKS or (isinstance(pack, int) and not isinstance(pack, bool)):
        if isinstance(pack, int) and not 1 <= pack <= MAX_SIZE:
            raise InvalidRequest(field_errors={"seed_pack": f"A size is 1 to {MAX_SIZE}."})
        return pack if isinstance(pack, int) else str(pack)
    raise InvalidRequest(
        field_errors={"seed_pack": "Must be empty, demo or a number of activities."}
    )


def _fill(conn: Connection, pack: str | int, name: str, email: str, rng: random.Random) -> Any:
    """Create the organization and its data; returns ``accounts``' or ``seed``'s answer."""
    if pack == "empty":
        created = accounts.create_organization(conn, name, email)
        return created["organization_id"], created["user_id"], created["api_key"]
    org = seed.create_demo_org(conn, name, email, 4, rng)
    end = dates.to_datetime(dates.now())
    if pack == "demo":
        seed.load(conn, org, rng, 25, 400, end - timedelta(days=365 * 2), end)
        demo_story.tell(conn, org.id, org.users, rng, end)
    else:
        assert isinstance(pack, int)
        leads = max(1, pack // 20)
        seed.load(conn, org, rng, leads, max(0, pack - leads), end - timedelta(days=365), end)
    return org.id, org.users[0], org.key


def create_org(ctx: PlaneCtx) -> dict[str, Any]:
    body = _body.obj(ctx.body)
    pack = _pack(body)
    id_seed = _body.integer(body, "seed")
    initial = parse_clock(_body.obj(body["clock"])) if body.get("clock") else clock.REAL
    initial = OrgClock(initial.mode, initial.offset_seconds, initial.frozen_at, id_seed)
    name = _body.text(body, "name") or "crmapi test organization"
    rng = random.Random(f"{id_seed}:{name}") if id_seed is not None else random.Random()
    email = _body.text(body, "email") or f"owner+{rng.getrandbits(48):012x}@crmapi.test"
    with clock.applied(initial), ids.seeded(rng if id_seed is not None else None):
        with ctx.db.write() as conn:
            org, user_id, key = _fill(conn, pack, name, email, rng)
            conn.execute(
                clock.E.insert().values(
                    organization_id=org,
                    clock_mode=initial.mode,
                    clock_offset_seconds=initial.offset_seconds,
                    clock_frozen_at=initial.frozen_at,
                    id_seed=id_seed,
                    seed_pack=str(pack),
                    date_updated=clock.now_for(clock.REAL),
                )
            )
        _save_seed(ctx, org)
    with ctx.db.read() as conn:
        org_clock = clock.load(conn, org)
    return {
        "organization_id": org,
        "user_id": user_id,
        "api_key": key,
        "seed_pack": pack,
        "clock": {"mode": org_clock.mode, "now": clock.now_for(org_clock)},
    }


def seed_path(ctx: PlaneCtx, org: str) -> Path:
    return Path(ctx.settings.snapshot_dir) / "seeds" / f"{org}.jsonl"


def _save_seed(ctx: PlaneCtx, org: str) -> None:
    """The organization as created: what ``reset {"to": "seed"}`` restores."""
    with ctx.db.read() as conn:
        rows = snapshot_io.dump(conn, org)
        manifest = snapshot_io.manifest_for(conn, f"seed of {org}", [rows])
    snapshot_io.write_file(seed_path(ctx, org), snapshot_io.encode(manifest, [rows]))


def list_orgs(ctx: PlaneCtx) -> dict[str, Any]:
    o, e = t.organization, clock.E
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(o.c.id, o.c.name, o.c.date_created, e.c.clock_mode, e.c.seed_pack)
            .select_from(o.outerjoin(e, e.c.organization_id == o.c.id))
            .order_by(o.c.date_created, o.c.id)
        ).all()
    return {
        "data": [
            {
                "organization_id": r.id,
                "name": r.name,
                "date_created": r.date_created,
                "clock_mode": r.clock_mode or "real",
                "seed_pack": r.seed_pack,
            }
            for r in rows
        ]
    }


def delete_org(ctx: PlaneCtx) -> None:
    """Every row of the organization, in one transaction; users left in no organization go too."""
    with ctx.db.write() as conn:
        if not _exists(conn, ctx.org):
            raise NotFound("Organization does not exist.")
        members = list(
            conn.execute(
                select(t.membership.c.user_id).where(t.membership.c.organization_id == ctx.org)
            ).scalars()
        )
        snapshot_io.wipe(conn, ctx.org, frozenset())
        conn.execute(delete(t.organization).where(t.organization.c.id == ctx.org))
        elsewhere = select(t.membership.c.user_id).where(t.membership.c.user_id.in_(members))
        conn.execute(delete(t.user).where(t.user.c.id.in_(members), t.user.c.id.not_in(elsewhere)))
    seed_path(ctx, ctx.org).unlink(missing_ok=True)
    snapshots.drop_org_snapshots(ctx)
    ids.forget_streams(ctx.org)
    forget(ctx)


def _exists(conn: Connection, org: str) -> bool:
    return bool(
        conn.execute(
            select(func.count()).select_from(t.organization).where(t.organization.c.id == org)
        ).scalar()
    )


def reset(ctx: PlaneCtx) -> dict[str, Any]:
    body = _body.obj(ctx.body)
    target = _body.text(body, "to", "empty") or "empty"
    if target == "empty":
        _reset_empty(ctx)
    elif target == "seed":
        path = seed_path(ctx, ctx.org)
        if not path.exists():
            raise InvalidRequest(["This organization was not created by POST /_crmapi/orgs."])
        snapshots.restore_file(ctx, path, ctx.org)
    elif target.startswith("snapshot:"):
        snapshots.restore_file(ctx, snapshots.org_path(ctx, target[9:]), ctx.org)
    else:
        raise InvalidRequest(field_errors={"to": "Must be empty, seed or snapshot:<name>."})
    forget(ctx)
    return {"organization_id": ctx.org, "reset_to": target}


# An empty organization keeps who can use it, its clock and nothing else.
_KEEP_ON_EMPTY = frozenset({"api_key", "access_token", "membership", "emulator_org"})


def _reset_empty(ctx: PlaneCtx) -> None:
    with ctx.db.read() as conn:
        org_clock = clock.load(conn, ctx.org)
    with clock.applied(org_clock, ctx.org), ctx.db.write() as conn:
        owner = str(
            conn.execute(
                select(t.organization.c.created_by).where(t.organization.c.id == ctx.org)
            ).scalar()
        )
        snapshot_io.wipe(conn, ctx.org, _KEEP_ON_EMPTY)
        # Close's defaults, as a new organization has them.
        accounts._default_statuses(conn, ctx.org, owner, dates.now())


OPS = [
    PlaneOp(
        "POST",
        "/orgs",
        create_org,
        "admin",
        "Create an organization (seed pack, clock, id seed); returns its API key",
        status=201,
        body_schema=CREATE_SCHEMA,
    ),
    PlaneOp("GET", "/orgs", list_orgs, "admin", "List organizations"),
    PlaneOp(
        "DELETE",
        "/orgs/{org}",
        delete_org,
        "org",
        "Delete an organization and all its rows",
        status=204,
    ),
    PlaneOp(
        "POST",
        "/orgs/{org}/reset",
        reset,
        "org",
        "Reset to empty, to its seed, or to one of its snapshots",
        body_schema={
            "type": "object",
            "properties": {"to": {"type": "string", "description": "empty | seed | snapshot:NAME"}},
        },
    ),
]
