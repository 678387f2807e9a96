"""Comments (``/comment/``, more.md §2): rich text left on an activity or an opportunity.

A comment always lives in its object's thread (``comment_threads``), opened by the first
comment. The body is rich text as notes take it (``util.richtext``: sanitised, wrapped in
``<body>``, its mentions listed). Only the author may edit a comment. A delete removes the
body and keeps the comment (``removed_at``) until the thread's last live comment goes, which
deletes the whole thread (Close's rule).
"""

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import APIError, InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec
from crmapi.resources import comment_threads as threads
from crmapi.resources import repository
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.render import listing
from crmapi.resources.spec import LeadChild, Operation, ResourceSpec
from crmapi.storage import tables as t
from crmapi.util import dates, richtext
from crmapi.util.ids import new_id

COMMENT = t.comment
BODY = Field("body", "str", required=True, nullable=False, max_length=1_048_576, blank=False)
CREATE_FIELDS = FieldSet((BODY, Field("object_id", "id", required=True, nullable=False)))
# PUT changes only what is sent (an empty body changes nothing), as every crmapi update.
UPDATE_FIELDS = FieldSet((replace(BODY, required=False),))
NOT_YOURS = "You can only edit your own comments."


class Forbidden(APIError):
    status = 403


def _thread_ids(table: Any, values: list[Any]) -> Any:
    """``object_id``: the comments of that object's thread."""
    th = t.comment_thread
    return table.c.thread_id.in_(select(th.c.id).where(th.c.object_id.in_(values)))


LIST = ListSpec(
    filters={
        "object_id": FilterSpec("thread_id", "in", "id", sql=_thread_ids),
        "thread_id": FilterSpec("thread_id", "in", "id"),
    },
    orderings={"created_at": OrderSpec("date_created"), "updated_at": OrderSpec("date_updated")},
    default_order="created_at",
    one_of=("object_id", "thread_id"),
)


render_rows = threads.render_comments


def list_comments(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    scope = and_(COMMENT.c.organization_id == ctx.org)
    with ctx.db.read() as conn:
        rows = conn.execute(qc.page(select(COMMENT), COMMENT, query, scope)).all()
        return listing(render_rows(conn, ctx.org, rows), query)


def _open_thread(conn: Connection, ctx: Actor, object_id: str, now: str) -> str:
    """The object's thread (opened, with its event, by its first comment)."""
    found = threads.thread_of(conn, ctx.org, object_id)
    if found is not None:
        return str(found.id)
    where = threads.target(conn, ctx.org, object_id)
    if where is None:
        raise InvalidRequest(
            field_errors={"object_id": f'Object "{object_id}" does not exist or takes no comments.'}
        )
    thread_id = new_id("comthr")
    conn.execute(
        insert(threads.THREAD).values(
            id=thread_id,
            organization_id=ctx.org,
            object_id=object_id,
            object_type=where.object_type,
            lead_id=where.lead_id,
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    return thread_id


def _rich(body: str) -> tuple[str, list[str]]:
    markup = richtext.sanitize(body)
    return markup, richtext.mentions(markup)


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    values = CREATE_FIELDS.validate(body, creating=True)
    now = dates.now()
    existing = threads.thread_of(conn, ctx.org, values["object_id"])
    thread_id = _open_thread(conn, ctx, values["object_id"], now)
    thread_before = threads.render_one(conn, ctx.org, thread_id)
    assert thread_before is not None
    markup, mentioned = _rich(values["body"])
    comment_id = new_id("comm")
    conn.execute(
        insert(COMMENT).values(
            id=comment_id,
            organization_id=ctx.org,
            thread_id=thread_id,
            lead_id=thread_before["lead_id"],
            body=markup,
            mentions=mentioned,
            created_by=ctx.user_id,
            updated_by=ctx.user_id,
            date_created=now,
            date_updated=now,
        )
    )
    _touch(conn, ctx, thread_id, now)
    thread_after = threads.render_one(conn, ctx.org, thread_id)
    emit = threads.request_emitter(conn, ctx)
    if existing is None:
        emit("comment_thread", "created", None, thread_after)
    else:
        emit("comment_thread", "updated", thread_before, thread_after)
    threads.sync_summary(conn, ctx.org, values["object_id"])
    created = repository.render_one(conn, SPEC, ctx.org, comment_id)
    emit("comment", "created", None, created)
    return created


def _touch(conn: Connection, ctx: Actor, thread_id: str, now: str) -> None:
    th = threads.THREAD
    conn.execute(
        update(th)
        .where(th.c.organization_id == ctx.org, th.c.id == thread_id)
        .values(updated_by=ctx.user_id, date_updated=now)
    )


def _own(conn: Connection, ctx: Actor, comment_id: str) -> dict[str, Any]:
    before = repository.render_one(conn, SPEC, ctx.org, comment_id)
    if before["created_by"] != ctx.user_id:
        raise Forbidden(NOT_YOURS)
    return before


def update_(conn: Connection, ctx: Actor, comment_id: str, body: dict[str, Any]) -> dict[str, Any]:
    values = UPDATE_FIELDS.validate(body, creating=True)
    before = _own(conn, ctx, comment_id)
    if "body" not in values:
        return before
    if before["removed_at"] is not None:
        raise InvalidRequest(["A removed comment cannot be changed."])
    markup, mentioned = _rich(values["body"])
    conn.execute(
        update(COMMENT)
        .where(COMMENT.c.organization_id == ctx.org, COMMENT.c.id == comment_id)
        .values(body=markup, mentions=mentioned, updated_by=ctx.user_id, date_updated=dates.now())
    )
    after = repository.render_one(conn, SPEC, ctx.org, comment_id)
    emit_change(conn, ctx, "comment", "updated", before, after)
    return after


def remove(conn: Connection, ctx: Actor, comment_id: str) -> None:
    """The body goes and the comment stays as removed, until its thread has none left."""
    before = repository.render_one(conn, SPEC, ctx.org, comment_id)
    if before["removed_at"] is not None:
        return
    thread_before = threads.render_one(conn, ctx.org, before["thread_id"])
    assert thread_before is not None
    now = dates.now()
    conn.execute(
        update(COMMENT)
        .where(COMMENT.c.organization_id == ctx.org, COMMENT.c.id == comment_id)
        .values(body="", mentions=[], removed_at=now, removed_by=ctx.user_id, date_updated=now)
    )
    emit_change(conn, ctx, "comment", "deleted", before, None)
    threads.settle(
        conn, ctx.org, before["thread_id"], thread_before, threads.request_emitter(conn, ctx)
    )


SPEC = ResourceSpec(
    name="comment",
    path="/comment/",
    model="Comment",
    table=COMMENT,
    id_prefix="comm",
    fields=CREATE_FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="comment",
    lead_child=LeadChild(),
    operations={
        "list": Operation(list_comments, "List the comments of one object or thread"),
        "create": Operation(creating(create), "Comment on an object", 201),
        "get": Operation(None, "Get a comment"),
        "update": Operation(updating(update_), "Edit your own comment", fields=UPDATE_FIELDS),
        "delete": Operation(deleting(remove), "Remove a comment", 204),
    },
    docs="https://developer.close.com/api/resources/comments",
)
