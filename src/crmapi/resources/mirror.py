"""``crmapi import --from URL``: one organization of a Close-compatible API (Close itself or
another crmapi) copied into a crmapi organization, read through Close's public endpoints
(``mirror_source``) and written through the API's own domain functions, as
``lead_import`` writes a file: ids kept (``ids.given``), each object written on a clock frozen
at its own date by its own author (``lead_import._at``/``Importer.actor``).

The copy runs resource by resource (``STEPS``); every page is written in one transaction
together with the checkpoint (``mirror_checkpoint``: per organization and source) that says
how far that resource got, so a killed import resumes at the page it was on, and an object
already present (by id) is never written twice. A finished run stores its start as the
watermark the next run reads changes after (``date_updated``/``date_created`` filters, and
the event log for deletes).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, Table, delete, insert, select

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.activities.types import meeting
from crmapi.domain.context import Principal
from crmapi.domain.errors import InvalidRequest
from crmapi.events.emit import IMPORT_PATH
from crmapi.resources import (
    accounts,
    contacts,
    custom_activity_types,
    custom_fields,
    email_templates,
    lead_import,
    leads,
    opportunities,
    outcomes,
    pipelines,
    repository,
    saved_searches,
    sms_templates,
    statuses,
    tasks,
)
from crmapi.resources.lead_import import Doc, Importer, Report, _at
from crmapi.resources.mirror_source import Source, SourceError
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates, ids

CUSTOM_FIELD_TYPES = ("lead", "contact", "opportunity", "activity")
Progress = Callable[[str, int], None]  # (resource, objects read so far)


@dataclass
class Checkpoint:
    since: str | None = None  # the start of the last finished run: read what changed after
    started: str | None = None  # this run's start (kept across a resume)
    offsets: dict[str, int] = field(default_factory=dict)  # resource -> items done this run
    done: list[str] = field(default_factory=list)  # resources finished this run

    def dump(self) -> str:
        return orjson.dumps(self.__dict__).decode()


def _load_checkpoint(conn: Connection, org: str, source: str) -> Checkpoint:
    c = t.mirror_checkpoint.c
    raw = conn.execute(select(c.state).where(c.organization_id == org, c.source == source)).scalar()
    return Checkpoint(**orjson.loads(raw)) if raw else Checkpoint()


def _save_checkpoint(conn: Connection, org: str, source: str, cp: Checkpoint) -> None:
    c = t.mirror_checkpoint
    conn.execute(delete(c).where(c.c.organization_id == org, c.c.source == source))
    conn.execute(
        insert(c).values(
            organization_id=org, source=source, state=cp.dump(), date_updated=dates.now()
        )
    )


def _has(imp: Importer, table: Table, object_id: Any) -> bool:
    """The organization holds this object (an id that is not a string: no)."""
    return isinstance(object_id, str) and repository.exists(imp.conn, table, imp.org, object_id)


@dataclass
class Mirror:
    db: Database
    source: Source
    org: str
    user_id: str
    cp: Checkpoint
    report: Report
    progress: Progress
    system_ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.source.base

    @contextmanager
    def importer(self) -> Iterator[Importer]:
        with self.db.write() as conn:
            members = frozenset(lead_import._members(conn, self.org))
            yield Importer(conn, self.org, self.user_id, members, self.report, self.system_ids)

    def pages(
        self,
        name: str,
        path: str,
        params: dict[str, Any],
        write_page: Callable[[Importer, list[Doc]], None],
    ) -> None:
        """Read ``path`` from this run's offset; each page and its offset in one transaction."""
        if name in self.cp.done:
            return
        start = self.cp.offsets.get(name, 0)
        for offset, items in self.source.pages(path, params, skip=start):
            with self.importer() as imp:
                write_page(imp, items)
                self.cp.offsets[name] = offset
                _save_checkpoint(imp.conn, self.org, self.key, self.cp)
            self.progress(name, offset)
        with self.db.write() as conn:
            self.cp.done.append(name)
            _save_checkpoint(conn, self.org, self.key, self.cp)


def _config(
    create: Callable[..., Any], table: Table, *args: str
) -> Callable[[Importer, Doc], None]:
    """A configuration object (status, field, template...) created with its id and dates."""

    def write_one(imp: Importer, doc: Doc) -> None:
        if _has(imp, table, doc.get("id")):
            return
        with _at(doc.get("date_created")), ids.given(*imp.fresh(table, doc.get("id"))):
            create(imp.conn, imp.actor(doc.get("created_by")), *args, doc)

    return write_one


def _empty(imp: Importer) -> bool:
    """No leads yet: the organization's default statuses may give way to the source's."""
    return not imp.conn.execute(
        select(t.lead.c.id).where(t.lead.c.organization_id == imp.org).limit(1)
    ).first()


def _lead_statuses(imp: Importer, items: list[Doc]) -> None:
    """The source's lead statuses with their ids; in an organization without leads its
    defaults are removed (so status ids answer as the source's), else matched by label."""
    empty, before = _empty(imp), [s["id"] for s in statuses.lead_statuses(imp.conn, imp.org)]
    for doc in items:
        if _has(imp, t.lead_status, doc.get("id")) or (
            not empty and statuses.lead_status_by_label(imp.conn, imp.org, str(doc.get("label")))
        ):
            continue
        with _at(doc.get("date_created")), ids.given(*imp.fresh(t.lead_status, doc.get("id"))):
            statuses.create_lead_status(_Call(imp, doc))
    wanted = {d.get("id") for d in items}
    for status_id in before if empty and items else ():
        if status_id not in wanted:
            statuses.delete_lead_status(_Call(imp, {}, path_params={"id": status_id}))


def _pipelines(imp: Importer, items: list[Doc]) -> None:
    """Pipelines and their opportunity statuses, as lead statuses (``_lead_statuses``)."""
    empty = _empty(imp)
    before = [
        (p["id"], [s["id"] for s in p["statuses"]]) for p in statuses.pipelines(imp.conn, imp.org)
    ]
    for doc in items:
        wanted = [
            st
            for st in doc.get("statuses") or []
            if empty or not pipelines.status_by_label(imp.conn, imp.org, str(st.get("label")), None)
        ]
        if not wanted and not empty:
            continue
        if not _has(imp, t.pipeline, doc.get("id")):
            with _at(doc.get("date_created")), ids.given(*imp.fresh(t.pipeline, doc.get("id"))):
                pipelines.create_pipeline(_Call(imp, {"name": doc.get("name")}))
        for st in wanted:
            if _has(imp, t.opportunity_status, st.get("id")):
                continue
            body = {**st, "pipeline_id": doc.get("id")}
            with (
                _at(st.get("date_created")),
                ids.given(*imp.fresh(t.opportunity_status, st.get("id"))),
            ):
                pipelines.create_opportunity_status(_Call(imp, body))
    kept = {d.get("id") for d in items} | {
        st.get("id") for d in items for st in d.get("statuses") or []
    }
    for pipeline_id, status_ids in before if empty and items else ():
        for status_id in status_ids:
            if status_id not in kept:
                pipelines.delete_opportunity_status(_Call(imp, {}, path_params={"id": status_id}))
        if pipeline_id not in kept:
            pipelines.delete_pipeline(_Call(imp, {}, path_params={"id": pipeline_id}))


@dataclass
class _Call:
    """A handler's ``Call`` for the few configuration writes that only have a handler: it
    runs in its own transaction on the importer's database."""

    imp: Importer
    body: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)
    tz: float = 0.0
    request_id: str = ""
    method: str = "POST"
    path: str = IMPORT_PATH

    @property
    def principal(self) -> Principal:
        return Principal(self.imp.org, self.imp.user_id)

    @property
    def org(self) -> str:
        return self.imp.org

    @property
    def user_id(self) -> str:
        return self.imp.user_id

    @property
    def db(self) -> Any:
        return _SameConnection(self.imp.conn)

    @property
    def settings(self) -> Any:
        return Settings.from_env()


@dataclass
class _SameConnection:
    """``db.read()``/``db.write()`` on the importer's open transaction (a savepoint)."""

    conn: Connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self.conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn


def _user(imp: Importer, doc: Doc) -> None:
    """A user of the source becomes a member, under the source's id when it is new here."""
    email = doc.get("email")
    if not isinstance(email, str):
        return
    kept = [] if _user_exists(imp.conn, doc) else [str(doc.get("id"))]
    with _at(doc.get("date_created")), ids.given(*kept):
        accounts.add_user(imp.conn, imp.org, email, doc.get("first_name"), doc.get("last_name"))


def _user_exists(conn: Connection, doc: Doc) -> bool:
    """Users are global: a source id already taken here (or no id) is not kept."""
    u = t.user.c
    object_id = doc.get("id")
    if not isinstance(object_id, str) or "_" not in object_id:
        return True
    return conn.execute(select(u.id).where(u.id == object_id)).first() is not None


def _lead(imp: Importer, doc: Doc) -> None:
    """A new lead whole (its contacts, opportunities, open tasks); a known one updated."""
    if not _has(imp, t.lead, doc["id"]):
        lead_import._lead(imp, {**doc, "activities": []})
        imp.report.leads += 1
        return
    body: Doc = {k: doc.get(k) for k in ("name", "description", "url", "addresses")}
    if statuses.lead_status_by_label(imp.conn, imp.org, str(doc.get("status_label"))):
        body["status"] = doc.get("status_label")
    body.update(imp.custom("lead", doc, doc.get("custom")))
    with _at(doc.get("date_updated")):
        leads.update_(imp.conn, imp.actor(doc.get("updated_by")), doc["id"], body)
    for contact in doc.get("contacts") or []:
        _contact(imp, doc["id"], contact)


def _contact(imp: Importer, lead_id: str, doc: Doc) -> None:
    if not _has(imp, t.contact, doc.get("id")):
        imp.attempt("contact", doc, partial(lead_import._contact, imp, lead_id, doc))
        return
    keys = ("name", "title", "emails", "phones", "urls")
    body = {k: doc[k] for k in keys if k in doc} | imp.custom("contact", doc, None)
    with _at(doc.get("date_updated")):
        imp.attempt(
            "contact",
            doc,
            partial(contacts.update_, imp.conn, imp.actor(doc.get("updated_by")), doc["id"], body),
        )


def _lead_dates(imp: Importer, doc: Doc) -> None:
    """A lead's last ``date_updated``/``updated_by`` as the source has them: its children and
    activities, written after it, touched it later than the source's last change."""
    row = imp.conn.execute(
        select(t.lead.c.date_updated, t.lead.c.updated_by).where(
            t.lead.c.organization_id == imp.org, t.lead.c.id == doc.get("id")
        )
    ).first()
    if row is None or (row[0], row[1]) == (
        doc.get("date_updated"),
        imp.person(doc.get("updated_by")),
    ):
        return
    with _at(doc.get("date_updated")):
        leads.update_(imp.conn, imp.actor(doc.get("updated_by")), doc["id"], {})


def _child(
    table: Table, kind: str, write_one: Callable[[Importer, str, Doc], None]
) -> Callable[[Importer, Doc], None]:
    """An opportunity or task of a lead, written once (a lead embeds only its open tasks)."""

    def one(imp: Importer, doc: Doc) -> None:
        lead_id = doc.get("lead_id")
        if _has(imp, table, doc.get("id")) or not (
            isinstance(lead_id, str) and _has(imp, t.lead, lead_id)
        ):
            return
        imp.attempt(kind, doc, partial(write_one, imp, lead_id, doc))

    return one


def _meeting(imp: Importer, lead_id: str, doc: Doc) -> None:
    """Close has no API create for a meeting: it is written as a calendar sync writes it
    (``meeting.add_meeting``, the path of ``crmapi meeting add``)."""
    emails = [a.get("email") for a in doc.get("attendees") or [] if isinstance(a, dict)]
    with (
        _at(doc.get("date_created")),
        ids.given(*imp.fresh(t.activity, doc.get("id"))),
        _refused_as_invalid(),
    ):
        wc = write.write_context(imp.actor(doc.get("user_id")), imp.conn)  # its clock: frozen
        meeting.add_meeting(
            wc,
            lead_id=lead_id,
            title=str(doc.get("title") or ""),
            starts_at=str(doc.get("starts_at")),
            ends_at=str(doc.get("ends_at")),
            attendees=[e for e in emails if isinstance(e, str)],
            location=str(doc.get("location") or ""),
            note=str(doc.get("note") or ""),
            source=str(doc.get("source") or "calendar"),
        )


@contextmanager
def _refused_as_invalid() -> Iterator[None]:
    """The admin path refuses with ``ValueError``; the report counts it as the API's 400."""
    try:
        yield
    except ValueError as exc:
        raise InvalidRequest([str(exc)]) from None


# Activities with no API create, written through the domain function that writes them.
SYSTEM_WRITERS: dict[str, Callable[[Importer, str, Doc], None]] = {"Meeting": _meeting}


def _activity(imp: Importer, doc: Doc) -> None:
    """An activity a client posts (what the system writes, the domain writes again)."""
    spec = BY_TYPE.get(str(doc.get("_type")))
    lead_id = doc.get("lead_id")
    if spec is None or not isinstance(lead_id, str):
        return
    writer = SYSTEM_WRITERS.get(spec.type)
    if writer is None and "create" not in spec.verbs:
        return
    if _has(imp, t.activity, doc.get("id")):
        return
    if not _has(imp, t.lead, lead_id):
        return
    imp.attempt(spec.type, doc, partial(writer or lead_import._activity, imp, lead_id, doc))


def _removed(imp: Importer, event: Doc) -> None:
    """A delete the source's event log reports, done here through the same domain call."""
    object_type, object_id = str(event.get("object_type")), event.get("object_id")
    ctx = imp.actor(event.get("user_id"))
    table, remove = REMOVERS.get(object_type.split(".")[0], (None, None))
    if object_type.startswith("activity."):
        spec = EVENT_TYPES.get(object_type)
        if spec is None or "delete" not in spec.verbs:
            return
        if _has(imp, t.activity, object_id):
            wc = write.write_context(ctx, imp.conn)
            imp.attempt("deleted", event, partial(write.delete, wc, spec, str(object_id)))
        return
    if table is not None and remove is not None and _has(imp, table, object_id):
        imp.attempt("deleted", event, partial(remove, imp.conn, ctx, str(object_id)))


# The event log's name of each activity type (``activity.note``).
EVENT_TYPES = {f"activity.{s.event_type}": s for s in BY_TYPE.values()}
REMOVERS: dict[str, tuple[Table, Callable[..., Any]]] = {
    "lead": (t.lead, leads.remove),
    "contact": (t.contact, contacts.remove),
    "opportunity": (t.opportunity, opportunities.remove),
    "task": (t.task, tasks.remove),
}


def _each(write_one: Callable[[Importer, Doc], None]) -> Callable[[Importer, list[Doc]], None]:
    def page(imp: Importer, items: list[Doc]) -> None:
        for doc in items:
            if isinstance(doc, dict):
                write_one(imp, doc)

    return page


def _oldest_first(
    write_one: Callable[[Importer, Doc], None],
) -> Callable[[Importer, list[Doc]], None]:
    """Newest-first pages written oldest first: an email thread's first message before its
    replies."""
    each = _each(write_one)
    return lambda imp, items: each(imp, list(reversed(items)))


@dataclass(frozen=True)
class Step:
    name: str
    path: str
    write_page: Callable[[Importer, list[Doc]], None]
    changed: Callable[[str], dict[str, Any]] = lambda since: {}  # incremental filters
    params: dict[str, Any] = field(default_factory=dict)


def _lead_changes(since: str) -> dict[str, Any]:
    return {"query": f'date_updated >= "{since}"'}


def _created_after(since: str) -> dict[str, Any]:
    return {"date_created__gte": since}


def _configs() -> list[Step]:
    fields = [
        Step(
            f"custom_field.{kind}",
            f"custom_field/{kind}/",
            _each(_config(custom_fields.create, t.custom_field, kind)),
        )
        for kind in CUSTOM_FIELD_TYPES
    ]
    return [
        Step("users", "user/", _each(_user)),
        Step("lead_statuses", "status/lead/", _lead_statuses),
        Step("pipelines", "pipeline/", _pipelines),
        Step(
            "custom_activity_types",
            "custom_activity/",
            _each(_config(custom_activity_types.create, t.custom_activity_type)),
        ),
        *fields,
        Step("outcomes", "outcome/", _each(_config(outcomes.create, t.outcome))),
        Step(
            "email_templates",
            "email_template/",
            _each(_config(email_templates.create, t.email_template)),
        ),
        Step(
            "sms_templates", "sms_template/", _each(_config(sms_templates.create, t.sms_template))
        ),
        Step("smart_views", "saved_search/", _each(_config(saved_searches.create, t.saved_search))),
    ]


STEPS: tuple[Step, ...] = (
    *_configs(),
    Step("leads", "lead/", _oldest_first(_lead), _lead_changes),
    Step(
        "opportunities",
        "opportunity/",
        _oldest_first(_child(t.opportunity, "opportunity", lead_import._opportunity)),
        lambda since: {"date_updated__gte": since},
    ),
    Step(
        "tasks",
        "task/",
        _oldest_first(_child(t.task, "task", lead_import._task)),
        lambda since: {"date_updated__gte": since},
    ),
    Step("activities", "activity/", _oldest_first(_activity), _created_after),
    Step("lead_dates", "lead/", _each(_lead_dates), _lead_changes),
)


def _deleted_types() -> list[str]:
    """The event log's object types whose deletes are done again (it filters an action by
    one object type at a time)."""
    kinds = [f"activity.{s.event_type}" for s in BY_TYPE.values() if "delete" in s.verbs]
    return [*REMOVERS, *dict.fromkeys(kinds)]


def _deletes(mirror: Mirror, since: str) -> None:
    """The source's event log since the watermark: its deletes, done again (idempotent: a
    resumed run reads them again and finds nothing left to delete)."""
    for object_type in _deleted_types():
        query = {"action": "deleted", "object_type": object_type, "date_updated__gte": since}
        try:
            for items in mirror.source.cursor_pages("event/", {**query, "_limit": 50}):
                with mirror.importer() as imp:
                    _each(_removed)(imp, items)
                mirror.progress("deletes", len(items))
        except SourceError as exc:
            if "404" not in str(exc):
                raise
            mirror.report.errors.append("deletes: the source has no event log")
            return


def prepare(db: Database, source: Source, org: str | None, email: str) -> dict[str, Any]:
    """The target organization: ``org``; or the one an earlier run from this source created
    (a killed first run resumes into it); or a new one under the source's own id, name and
    owner (the key's user), so the copy's answers name the same organization."""
    me = source.get("me/")
    if org is not None:
        return {"organization_id": org}
    first = (me.get("organizations") or [{}])[0]
    with db.write() as conn:
        o, u, c = t.organization.c, t.user.c, t.mirror_checkpoint.c
        earlier = conn.execute(
            select(c.organization_id).where(
                c.organization_id == first.get("id"), c.source == source.base
            )
        ).scalar()
        if earlier is not None:
            return {"organization_id": earlier}
        kept = [
            i
            for i, col in ((first.get("id"), o.id), (me.get("id"), u.id))
            if isinstance(i, str) and conn.execute(select(col).where(col == i)).first() is None
        ]
        with ids.given(*kept), _at(me.get("date_created")):
            created = accounts.create_organization(
                conn,
                str(first.get("name") or "Imported organization"),
                str(me.get("email") or email),
                first_name=me.get("first_name"),
                last_name=me.get("last_name"),
            )
        # In the same transaction: a run killed right after still finds its organization.
        _save_checkpoint(conn, created["organization_id"], source.base, Checkpoint())
        return created


# What the system writes as an object is written, and the key naming that object.
SYSTEM_ACTIVITIES = (("activity/created/", "lead_id"), ("activity/task_completed/", "task_id"))


def _system_ids(mirror: Mirror, since: str | None) -> None:
    """Read first, so that a lead (a task) written later keeps its Created (TaskCompleted)
    activity's id: the domain writes them itself, under the ids given (``Importer.given``)."""
    for path, key in SYSTEM_ACTIVITIES:
        params = {"date_created__gte": since} if since else {}
        for _, items in mirror.source.pages(path, params):
            for doc in items:
                if isinstance(doc.get(key), str) and isinstance(doc.get("id"), str):
                    mirror.system_ids.setdefault(doc[key], []).append(doc["id"])
            mirror.progress(path.split("/")[1], len(mirror.system_ids))


def run(
    db: Database,
    source: Source,
    org: str,
    user_id: str,
    since: str | None = None,
    progress: Progress = lambda name, n: None,
) -> dict[str, Any]:
    """One import run (or the rest of a killed one): every step, then the event log's
    deletes, then the watermark for the next run."""
    with db.write() as conn:
        cp = _load_checkpoint(conn, org, source.base)
        if cp.started is None:  # a new run (not the rest of a killed one)
            cp.started = dates.now()
            cp.since = since or cp.since
            _save_checkpoint(conn, org, source.base, cp)
    read: dict[str, int] = {}

    def counted(name: str, n: int) -> None:
        read[name] = n
        progress(name, n)

    mirror = Mirror(db, source, org, user_id, cp, Report(), counted)
    _system_ids(mirror, cp.since)
    for step in STEPS:
        params = {**step.params, **(step.changed(cp.since) if cp.since else {})}
        try:
            mirror.pages(step.name, step.path, params, step.write_page)
        except SourceError as exc:
            if "404" not in str(exc):
                raise
            mirror.report.errors.append(f"{step.name}: not served by the source")
            with db.write() as conn:
                cp.done.append(step.name)
                _save_checkpoint(conn, org, source.base, cp)
    if cp.since:
        _deletes(mirror, cp.since)
    with db.write() as conn:
        finished = Checkpoint(since=cp.started)
        _save_checkpoint(conn, org, source.base, finished)
    return {
        "since": cp.since,
        "watermark": cp.started,
        "read": read,
        **mirror.report.as_dict(),
        "source": source.stats.__dict__,
    }
