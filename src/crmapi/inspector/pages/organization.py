"""The organization the key belongs to: its counts, its members and the key's own user; and
from the emulator plane, reset (confirmed) and snapshots, each restore previewed as the
plane's dry-run diff before it is made."""

from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from starlette.responses import RedirectResponse, Response

from crmapi.activities import store
from crmapi.domain.errors import InvalidRequest
from crmapi.inspector.plane import segment
from crmapi.inspector.timeline import LABELS
from crmapi.inspector.web import UI, Page, Rendered, View, Visit
from crmapi.storage import tables as t

# Lists that report ``total_results``; asked for no rows, they only count.
COUNTED: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("Leads", "/lead/", {}),
    ("Opportunities", "/opportunity/", {}),
    ("Tasks", "/task/", {"_type": "all"}),
)


def _activity_counts(visit: Visit) -> list[tuple[str, int]]:
    """Activities by type: the feed has no totals, so one grouped count, scoped like any read."""
    A = store.A
    with visit.api.db.read() as conn:
        rows = conn.execute(
            select(A.c.type, func.count())
            .where(A.c.organization_id == visit.principal.organization_id)
            .group_by(A.c.type)
            .order_by(A.c.type)
        ).all()
    return [(LABELS.get(kind, kind), n) for kind, n in rows]


def _contacts(visit: Visit) -> int:
    C = t.contact
    with visit.api.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(C)
                .where(C.c.organization_id == visit.principal.organization_id)
            ).scalar_one()
        )


def show(visit: Visit) -> Rendered:
    counts: list[tuple[str, Any]] = [
        (label, visit.api.get(path, **params, _limit=0).get("total_results"))
        for label, path, params in COUNTED
    ]
    counts.insert(1, ("Contacts", _contacts(visit)))
    counts.append(("Webhook subscriptions", len(visit.api.get("/webhook/")["data"])))
    organization = visit.api.get(f"/organization/{visit.principal.organization_id}/")
    return Rendered(
        "organization.html",
        {
            "title": "Organization",
            "organization": organization,
            "counts": counts,
            "activity_counts": _activity_counts(visit),
            "snapshots": visit.plane.get("/snapshots")["data"],
            "done": visit.params.get("done", ""),
        },
    )


def _confirmed(visit: Visit) -> None:
    """Destructive actions carry a ticked confirmation box (the server checks it too)."""
    if visit.form.get("confirm") != "yes":
        raise InvalidRequest(["Tick the confirmation box first: nothing was changed."])


def reset(visit: Visit) -> Response:
    _confirmed(visit)
    target = visit.form.get("to", "empty")
    if target not in ("empty", "seed"):
        raise InvalidRequest(field_errors={"to": "Must be empty or seed."})
    visit.plane.call("POST", "/reset", body={"to": target})
    return RedirectResponse(f"{UI}/organization/?done=reset", 303)


def create_snapshot(visit: Visit) -> Response:
    name = visit.form.get("name", "").strip()
    visit.plane.call("POST", "/snapshots", body={"name": name})
    return RedirectResponse(f"{UI}/organization/?done=snapshot#snapshots-h", 303)


def preview_restore(visit: Visit) -> Rendered:
    """What restoring the snapshot would add, change and remove (nothing is changed)."""
    name = segment(visit.params.get("name"))
    manifest = visit.plane.get(f"/snapshots/{name}")
    dry = visit.plane.call("POST", f"/snapshots/{name}/restore", body={"dry_run": True})
    return Rendered(
        "restore.html",
        {"title": f"Restore {name}", "snapshot": manifest, "name": name, "changes": dry["changes"]},
    )


def restore(visit: Visit) -> Response:
    name = segment(visit.form.get("name"))
    if visit.form.get("confirm") != "yes":
        return RedirectResponse(f"{UI}/organization/restore/?name={quote(name)}", 303)
    visit.plane.call("POST", f"/snapshots/{name}/restore", body={})
    return RedirectResponse(f"{UI}/organization/?done=restore", 303)


def delete_snapshot(visit: Visit) -> Response:
    visit.plane.call("DELETE", f"/snapshots/{segment(visit.form.get('name'))}")
    return RedirectResponse(f"{UI}/organization/#snapshots-h", 303)


PAGE = Page(
    "organization",
    "Organization",
    (
        View("GET", "", show),
        View("POST", "reset/", reset),
        View("POST", "snapshots/", create_snapshot),
        View("POST", "snapshots/delete/", delete_snapshot),
        View("GET", "restore/", preview_restore),
        View("POST", "restore/", restore),
    ),
)
