"""``crmapi import``: a Close lead export (JSON, ``type=leads``) loaded into an organization
through the API's own domain functions (``leads.create``, ``contacts.create``,
``opportunities.create``, ``tasks.create``, ``activities.write.create``): no second write path,
so every object gets its events, rules and side activities as if a client had posted it.

What is kept, where the domain allows it (docs/decisions.md "Exports"):

- ids: each object is written with the id it has in the file (``ids.given``), unless the
  organization already holds that id; a lead already present is skipped whole (re-running an
  import adds only what is missing);
- dates: each object is written on a clock frozen at its ``date_created`` and touched again
  at its ``date_updated`` (an empty update), so both dates survive; ``date_created`` is sent
  in the body where the API accepts it (opportunities, tasks, activities);
- people: ``created_by``/``updated_by``/``user_id``/``assigned_to`` are kept when that user is
  a member of the organization, else they become the importing user;
- statuses by label (lead status, opportunity status), custom fields by name (the lead's
  ``custom`` dict) or by an id the organization holds; anything else falls back to the
  organization's default and is counted in the report.

Activities only the system writes (Created, status changes, task completions...) are not
posted: the domain writes its own as the import replays what caused them.
"""

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, Table, select

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Context, Principal
from crmapi.domain.errors import APIError, InvalidRequest
from crmapi.events.emit import IMPORT_PATH
from crmapi.resources import (
    contacts,
    custom_values,
    leads,
    opportunities,
    pipelines,
    repository,
    statuses,
    tasks,
)
from crmapi.storage import tables as t
from crmapi.storage.db import Database
from crmapi.util import dates, ids

Doc = dict[str, Any]
USER_KEYS = ("created_by", "updated_by", "user_id", "assigned_to")


@dataclass
class Report:
    leads: int = 0
    skipped_leads: int = 0
    objects: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)  # type -> objects the API refused
    errors: list[str] = field(default_factory=list)  # the first few refusals, for the user

    def count(self, kind: str) -> None:
        self.objects[kind] = self.objects.get(kind, 0) + 1

    def refuse(self, kind: str, object_id: Any, exc: APIError) -> None:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        if len(self.errors) < 20:
            self.errors.append(f"{kind} {object_id}: {_describe(exc)}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "skipped_leads": self.skipped_leads,
            "objects": self.objects,
            "refused": self.refused,
            "errors": self.errors,
        }


def _describe(exc: APIError) -> str:
    if isinstance(exc, InvalidRequest):
        return "; ".join([*exc.errors, *(f"{k}: {v}" for k, v in exc.field_errors.items())])
    return exc.message


@dataclass
class Importer:
    conn: Connection
    org: str
    user_id: str  # acts where the file's user is not a member
    members: frozenset[str]
    report: Report
    # The ids of what the system writes as an object is written (a lead's Created activity,
    # a completed task's TaskCompleted), by that object's id: a mirror keeps them too.
    system_ids: dict[str, list[str]] = field(default_factory=dict)

    def given(self, table: Table, object_id: Any) -> list[str]:
        """The object's own id and its system activities' ids, where they are new here."""
        kept = self.fresh(table, object_id)
        return (
            kept + self.fresh(t.activity, *self.system_ids.get(str(object_id), ())) if kept else []
        )

    def actor(self, user: Any) -> Context:
        who = user if user in self.members else self.user_id
        return Context(Principal(self.org, who), method="POST", path=IMPORT_PATH)

    def person(self, user: Any) -> Any:
        return user if user is None or user in self.members else self.user_id

    def fresh(self, table: Table, *object_ids: Any) -> list[str]:
        """The ids to keep for a new object (not those the organization already holds)."""
        return [
            i
            for i in object_ids
            if isinstance(i, str)
            and "_" in i
            and not repository.exists(self.conn, table, self.org, i)
        ]

    def custom(self, object_type: str, obj: Doc, by_name: dict[str, Any] | None) -> Doc:
        """The ``custom.<id>`` keys this organization's fields accept (an activity's: those of
        its custom activity type, when it has one)."""
        kind = obj.get("custom_activity_type_id") if object_type == "activity" else None
        defs = custom_values.definitions(self.conn, self.org, object_type, kind)
        prefix = custom_values.PREFIX
        out = {k: v for k, v in obj.items() if k.startswith(prefix) and k[len(prefix) :] in defs}
        names = {d.name: d.id for d in defs.values()}
        for name, value in (by_name or {}).items():
            if name in names and value is not None:
                out[f"{prefix}{names[name]}"] = value
        return out

    def attempt(self, kind: str, doc: Doc, write_one: Callable[[], Any]) -> bool:
        """One object in its own savepoint: a refusal skips it and is reported."""
        try:
            with self.conn.begin_nested():
                write_one()
        except APIError as exc:
            self.report.refuse(kind, doc.get("id"), exc)
            return False
        self.report.count(kind)
        return True


@contextmanager
def _at(moment: Any) -> Iterator[None]:
    """Write on a clock frozen at the object's own time (now, for a file without one)."""
    if not isinstance(moment, str):
        yield
        return
    with dates.frozen(dates.to_datetime(moment)):
        yield


def _members(conn: Connection, org: str) -> list[str]:
    m = t.membership
    rows = conn.execute(
        select(m.c.user_id).where(m.c.organization_id == org).order_by(m.c.date_created, m.c.id)
    )
    return [str(r[0]) for r in rows]


def _touch(imp: Importer, doc: Doc, update: Callable[[Context], Any]) -> None:
    """An empty update at ``date_updated`` by ``updated_by``: both as the file has them."""
    if doc.get("date_updated") in (None, doc.get("date_created")) and doc.get(
        "updated_by"
    ) == doc.get("created_by"):
        return
    with _at(doc.get("date_updated")):
        update(imp.actor(doc.get("updated_by")))


def _people(imp: Importer, doc: Doc) -> Doc:
    return {k: imp.person(doc[k]) for k in USER_KEYS if k in doc and k != "updated_by"}


def _lead(imp: Importer, doc: Doc) -> None:
    body: Doc = {k: doc.get(k) for k in ("name", "description", "url") if doc.get(k) is not None}
    body["addresses"] = doc.get("addresses") or []
    label = doc.get("status_label")
    if isinstance(label, str) and statuses.lead_status_by_label(imp.conn, imp.org, label):
        body["status"] = label
    body.update(imp.custom("lead", doc, doc.get("custom")))
    with _at(doc.get("date_created")), ids.given(*imp.given(t.lead, doc["id"])):
        created = leads.create(imp.conn, imp.actor(doc.get("created_by")), body)
    lead_id = created["id"]
    for contact in doc.get("contacts") or []:
        imp.attempt("contact", contact, partial(_contact, imp, lead_id, contact))
    for opp in doc.get("opportunities") or []:
        imp.attempt("opportunity", opp, partial(_opportunity, imp, lead_id, opp))
    for task in doc.get("tasks") or []:
        imp.attempt("task", task, partial(_task, imp, lead_id, task))
    # The file lists activities newest first; oldest first keeps threads and replies whole.
    for activity in reversed(doc.get("activities") or []):
        spec = BY_TYPE.get(str(activity.get("_type")))
        if spec is not None and "create" in spec.verbs:
            imp.attempt(spec.type, activity, partial(_activity, imp, lead_id, activity))
    _touch(imp, doc, lambda ctx: leads.update_(imp.conn, ctx, lead_id, {}))


def _contact(imp: Importer, lead_id: str, doc: Doc) -> None:
    body = {
        k: doc[k] for k in ("name", "title", "emails", "phones", "urls") if doc.get(k) is not None
    }
    body.update(lead_id=lead_id, **imp.custom("contact", doc, None))
    with _at(doc.get("date_created")), ids.given(*imp.fresh(t.contact, doc.get("id"))):
        created = contacts.create(imp.conn, imp.actor(doc.get("created_by")), body)
    _touch(imp, doc, lambda ctx: contacts.update_(imp.conn, ctx, created["id"], {}))


def _opportunity(imp: Importer, lead_id: str, doc: Doc) -> None:
    keys = ("contact_id", "confidence", "value", "value_period", "note", "date_won")
    body = {k: doc[k] for k in keys if doc.get(k) is not None}
    body.update(lead_id=lead_id, date_created=doc.get("date_created"), **_people(imp, doc))
    status = pipelines.status_by_label(imp.conn, imp.org, str(doc.get("status_label")), None)
    if status is not None:
        body["status_id"] = status["id"]
    body.update(imp.custom("opportunity", doc, None))
    with _at(doc.get("date_updated")), ids.given(*imp.fresh(t.opportunity, doc.get("id"))):
        opportunities.create(imp.conn, imp.actor(doc.get("updated_by")), body)


def _task(imp: Importer, lead_id: str, doc: Doc) -> None:
    keys = ("_type", "contact_id", "text", "date", "due_date", "is_complete", "is_dateless")
    body = {k: doc[k] for k in keys if doc.get(k) is not None}
    body.update(lead_id=lead_id, date_created=doc.get("date_created"), **_people(imp, doc))
    with _at(doc.get("date_updated")), ids.given(*imp.given(t.task, doc.get("id"))):
        tasks.create(imp.conn, imp.actor(doc.get("updated_by")), body)


def _lead_status(imp: Importer, label: str) -> Any:
    found = statuses.lead_status_by_label(imp.conn, imp.org, label)
    return found and found["id"]


def _opportunity_status(imp: Importer, label: str) -> Any:
    found = pipelines.status_by_label(imp.conn, imp.org, label, None)
    return found and found["id"]


# Activities naming statuses: the organization's status of the same label (ids differ).
STATUS_OF: dict[str, Callable[[Importer, str], Any]] = {
    "LeadStatusChange": _lead_status,
    "OpportunityStatusChange": _opportunity_status,
}


def _statuses(imp: Importer, doc: Doc) -> Doc:
    resolve = STATUS_OF.get(str(doc.get("_type")))
    out = {}
    for side in ("old", "new") if resolve else ():
        found = resolve(imp, str(doc.get(f"{side}_status_label"))) if resolve else None
        if found:
            out[f"{side}_status_id"] = found
    return out


def _activity(imp: Importer, lead_id: str, doc: Doc) -> None:
    spec = BY_TYPE[str(doc["_type"])]
    body = {k: v for k, v in doc.items() if not k.startswith(custom_values.PREFIX)}
    body.update(lead_id=lead_id, **_people(imp, doc), **imp.custom("activity", doc, None))
    body.update(_statuses(imp, doc))
    ctx = imp.actor(doc.get("updated_by"))
    # An email's thread is written with its first email: it keeps its id too.
    kept = imp.fresh(t.activity, doc.get("id"), doc.get("thread_id"))
    with _at(doc.get("date_updated")), ids.given(*kept):
        write.create(write.write_context(ctx, imp.conn), spec, body)


def read_file(path: str) -> list[Doc]:
    """The leads of an export file (gzipped as Close serves it, or already unpacked)."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        docs = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    if not isinstance(docs, list):
        raise ValueError(f"{path} is not a JSON array of leads (export type leads, as JSON).")
    return docs


def load(db: Database, org: str, docs: list[Doc], user_id: str | None = None) -> Report:
    """Import every lead of an export into ``org``, one transaction per lead."""
    with db.read() as conn:
        members = _members(conn, org)
    if not members:
        raise LookupError(f"No organization {org} (or it has no members).")
    if user_id is not None and user_id not in members:
        raise LookupError(f"{user_id} is not a member of {org}.")
    report = Report()
    for doc in docs:
        with db.write() as conn:
            imp = Importer(conn, org, user_id or members[0], frozenset(members), report)
            if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                report.errors.append("an element that is not a lead object")
                continue
            if repository.exists(conn, t.lead, org, doc["id"]):
                report.skipped_leads += 1
                continue
            if imp.attempt("lead", doc, partial(_lead, imp, doc)):
                report.leads += 1
    return report
