"""Comment threads (``/comment_thread/``, more.md §2.3): one per commented object.

Close maintains threads itself: the first comment on an object opens its thread, removing
the last live one deletes it. A thread keeps the commented object's ``comment_summary`` in
step: activities store it in their document (so feeds stay spliced, activities/store.py),
opportunities read it per page (``summaries``). Deleting the object deletes its thread and
comments (``remove_for``), each with its event; a lead merge moves them (lead children).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, select, update

from crmapi.activities import store
from crmapi.domain.context import Actor, Call
from crmapi.events.emit import emit_change
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec
from crmapi.resources.render import listing
from crmapi.resources.spec import LeadChild, Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util.jsonutil import loads

THREAD = t.comment_thread
COMMENT = t.comment
A = store.A

# ``(object_type, action, before, after)``: how the caller emits (a request, an activity write).
Emit = Callable[[str, str, dict[str, Any] | None, dict[str, Any] | None], None]


@dataclass(frozen=True)
class Target:
    """A commentable object: its event-log object type and its lead."""

    object_type: str
    lead_id: str | None


def _activity(conn: Connection, org_id: str, object_id: str) -> Target | None:
    row = store.fetch_one(conn, org_id, object_id, None)
    if row is None:
        return None
    return Target(f"activity.{store.spec_of(row.type).event_type}", row.lead_id)


def _opportunity(conn: Connection, org_id: str, object_id: str) -> Target | None:
    o = t.opportunity
    lead_id = conn.execute(
        select(o.c.lead_id).where(o.c.organization_id == org_id, o.c.id == object_id)
    ).first()
    return None if lead_id is None else Target("opportunity", lead_id[0])


# What Close lets you comment on (more.md §2.4), by id prefix: every activity, opportunities.
COMMENTABLE: dict[str, Callable[[Connection, str, str], Target | None]] = {
    "acti": _activity,
    "oppo": _opportunity,
}


def request_emitter(conn: Connection, ctx: Actor) -> Emit:
    """How a request's changes to threads and comments are emitted."""

    def emit(kind: str, action: str, before: Any, after: Any) -> None:
        emit_change(conn, ctx, kind, action, before, after)

    return emit


def target(conn: Connection, org_id: str, object_id: str) -> Target | None:
    """The commentable object ``object_id`` names in this organization, or None."""
    find = COMMENTABLE.get(object_id.split("_", 1)[0])
    return find(conn, org_id, object_id) if find else None


def _live_counts(conn: Connection, org_id: str, thread_ids: list[str]) -> dict[str, int]:
    c = COMMENT
    rows = conn.execute(
        select(c.c.thread_id, func.count())
        .where(c.c.organization_id == org_id, c.c.thread_id.in_(thread_ids))
        .where(c.c.removed_at.is_(None))
        .group_by(c.c.thread_id)
    )
    return {r[0]: int(r[1]) for r in rows}


def _participants(conn: Connection, org_id: str, thread_ids: list[str]) -> dict[str, list[str]]:
    """Users who commented or were mentioned, first seen first (more.md §2.3 [?])."""
    c = COMMENT
    rows = conn.execute(
        select(c.c.thread_id, c.c.created_by, c.c.mentions)
        .where(c.c.organization_id == org_id, c.c.thread_id.in_(thread_ids))
        .order_by(c.c.date_created, c.c.id)
    )
    out: dict[str, list[str]] = {}
    for thread_id, author, mentioned in rows:
        seen = out.setdefault(thread_id, [])
        for user in [author, *(mentioned or [])]:
            if user and user.startswith("user_") and user not in seen:
                seen.append(user)
    return out


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    counts = _live_counts(conn, org_id, ids) if ids else {}
    people = _participants(conn, org_id, ids) if ids else {}
    return [
        {
            "id": r.id,
            "object_id": r.object_id,
            "object_type": r.object_type,
            "lead_id": r.lead_id,
            "organization_id": r.organization_id,
            "num_comments": counts.get(r.id, 0),
            "participating": people.get(r.id, []),
            "created_at": r.date_created,
            "updated_at": r.date_updated,
        }
        for r in rows
    ]


def render_one(conn: Connection, org_id: str, thread_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(THREAD).where(THREAD.c.organization_id == org_id, THREAD.c.id == thread_id)
    ).first()
    return None if row is None else render_rows(conn, org_id, [row])[0]


def thread_of(conn: Connection, org_id: str, object_id: str) -> Row[Any] | None:
    return conn.execute(
        select(THREAD).where(THREAD.c.organization_id == org_id, THREAD.c.object_id == object_id)
    ).first()


# --- comment_summary on the commented object ------------------------------------------------


def summary(thread: dict[str, Any] | None) -> dict[str, Any] | None:
    """Close's ``CommentSummary``; null while the object has no thread."""
    if thread is None:
        return None
    return {"comment_count": thread["num_comments"], "thread_id": thread["id"]}


def summaries(conn: Connection, org_id: str, object_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``comment_summary`` of each commented object among ``object_ids`` (one page's)."""
    if not object_ids:
        return {}
    rows = conn.execute(
        select(THREAD).where(THREAD.c.organization_id == org_id, THREAD.c.object_id.in_(object_ids))
    ).all()
    return {
        obj["object_id"]: {"comment_count": obj["num_comments"], "thread_id": obj["id"]}
        for obj in render_rows(conn, org_id, rows)
    }


def _store_on_activity(
    conn: Connection, org_id: str, activity_id: str, value: dict[str, Any] | None
) -> None:
    """An activity keeps its summary in its stored document (no event: Close's comments are
    their own objects; the activity itself did not change)."""
    where = (store.scope(org_id), A.c.id == activity_id)
    data = conn.execute(select(A.c.data).where(*where)).scalar()
    if data is None:
        return
    document = dict(loads(data) if isinstance(data, str) else data)
    document["comment_summary"] = value
    conn.execute(update(A).where(*where).values(data=document))


def sync_summary(conn: Connection, org_id: str, object_id: str) -> None:
    """Write the object's current ``comment_summary`` where it is stored."""
    if object_id.startswith("acti_"):
        found = thread_of(conn, org_id, object_id)
        thread = render_one(conn, org_id, found.id) if found is not None else None
        _store_on_activity(conn, org_id, object_id, summary(thread))


# --- keeping a thread in step with its comments ---------------------------------------------


def settle(
    conn: Connection, org_id: str, thread_id: str, before: dict[str, Any], emit: Emit
) -> None:
    """After a comment changed: the thread is updated, or deleted with its last live comment."""
    after = render_one(conn, org_id, thread_id)
    assert after is not None
    if after["num_comments"] == 0:
        _drop(conn, org_id, [thread_id])
        emit("comment_thread", "deleted", before, None)
    else:
        emit("comment_thread", "updated", before, after)
    sync_summary(conn, org_id, before["object_id"])


def _drop(conn: Connection, org_id: str, thread_ids: list[str]) -> None:
    conn.execute(
        delete(COMMENT).where(
            COMMENT.c.organization_id == org_id, COMMENT.c.thread_id.in_(thread_ids)
        )
    )
    conn.execute(
        delete(THREAD).where(THREAD.c.organization_id == org_id, THREAD.c.id.in_(thread_ids))
    )


def render_comments(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    """Comments as the API shows them (``comments`` serves them; a cascade emits them)."""
    return [
        {
            "id": r.id,
            "thread_id": r.thread_id,
            "lead_id": r.lead_id,
            "organization_id": r.organization_id,
            "body": r.body,
            "mentions": list(r.mentions or []),
            "created_by": r.created_by,
            "updated_by": r.updated_by,
            "created_at": r.date_created,
            "updated_at": r.date_updated,
            "removed_at": r.removed_at,
            "removed_by": r.removed_by,
        }
        for r in rows
    ]


def remove_for(conn: Connection, org_id: str, object_ids: list[str], emit: Emit) -> None:
    """The objects are being deleted: their threads and comments go, each with its event
    (the comments first, as a lead delete emits its children before the lead)."""
    rows = conn.execute(
        select(THREAD).where(THREAD.c.organization_id == org_id, THREAD.c.object_id.in_(object_ids))
    ).all()
    if not rows:
        return
    threads = render_rows(conn, org_id, rows)
    ids = [r.id for r in rows]
    comment_rows = conn.execute(
        select(COMMENT)
        .where(COMMENT.c.organization_id == org_id, COMMENT.c.thread_id.in_(ids))
        .where(COMMENT.c.removed_at.is_(None))
        .order_by(COMMENT.c.date_created, COMMENT.c.id)
    ).all()
    comments = render_comments(conn, org_id, comment_rows)
    _drop(conn, org_id, ids)
    for comment in comments:
        emit("comment", "deleted", comment, None)
    for thread in threads:
        emit("comment_thread", "deleted", thread, None)


# --- the endpoint ---------------------------------------------------------------------------


LIST = ListSpec(
    filters={
        "ids": FilterSpec("id", "in", "id", multi=True),
        "object_ids": FilterSpec("object_id", "in", "id", multi=True),
    },
    orderings={"created_at": OrderSpec("date_created"), "updated_at": OrderSpec("date_updated")},
    default_order="created_at",
)


def list_threads(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    scope = and_(THREAD.c.organization_id == ctx.org)
    with ctx.db.read() as conn:
        rows = conn.execute(qc.page(select(THREAD), THREAD, query, scope)).all()
        return listing(render_rows(conn, ctx.org, rows), query)


SPEC = ResourceSpec(
    name="comment_thread",
    path="/comment_thread/",
    model="CommentThread",
    table=THREAD,
    id_prefix="comthr",
    list_spec=LIST,
    render=render_rows,
    event_type="comment_thread",
    lead_child=LeadChild(),
    operations={
        "list": Operation(list_threads, "List comment threads (by ids or object_ids)"),
        "get": Operation(None, "Get a comment thread"),
    },
    docs="https://developer.close.com/api/resources/comments/list-threads",
)
