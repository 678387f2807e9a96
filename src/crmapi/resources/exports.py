"""Exports (``/export/lead/``, ``/export/opportunity/``, ``/export/``): the leads a search
selects, or the opportunities list filters select, written to one gzipped JSON or CSV file
(more.md §9).

A job is created ``created`` (200, as Close answers) and runs in the background as due work of
the organization's clock (``due/exports.py``): its first step loads the selection (``n_docs``;
``started``), each next step renders one batch with the API's own render functions
(``export_docs``; ``in_progress``), the last one assembles the file and marks the job
``done`` with its ``download_url``. The file is served by crmapi itself at
``/export/{id}/download/``, authenticated like every other route (another organization's key
gets the 404 it gets for the job). The job's events are ``export.lead`` /
``export.opportunity`` ``created``, ``updated`` and ``completed``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select
from starlette.responses import Response

from crmapi.domain.context import Actor, Call, Context
from crmapi.domain.errors import InvalidRequest, object_not_found
from crmapi.domain.fields import Field, FieldSet
from crmapi.query import grammar
from crmapi.query.model import ListSpec, OrderSpec
from crmapi.resources import bulk_selection, export_docs, opportunities, repository
from crmapi.resources.render import project
from crmapi.resources.spec import Action, Operation, ResourceSpec
from crmapi.search import listing as search_listing
from crmapi.storage import tables as t
from crmapi.util import dates

E, PART, FILE = t.export, t.export_part, t.export_file
BATCH = 100  # objects per step: one transaction each, so a big export never holds a long lock
FORMATS = ("csv", "json")
LEAD_TYPES = ("leads", "contacts", "lead_opps")
DATE_FORMATS = ("original", "iso8601", "excel")
EVERY_LEAD = {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]}
# The columns of each type when the request names none (Close's examples, more.md §9.3).
DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "leads": (
        "addresses", "contacts", "created_by", "created_by_name", "custom", "date_created",
        "date_updated", "description", "display_name", "id", "name", "status_id",
        "status_label", "updated_by", "updated_by_name", "url",
    ),
    "contacts": (
        "created_by", "date_created", "date_updated", "emails", "id", "name", "phones",
        "title", "updated_by", "urls",
    ),
    "opps": (
        "confidence", "contact_id", "created_by", "created_by_name", "date_created",
        "date_updated", "date_won", "id", "lead_id", "lead_name", "note", "status_id",
        "status_label", "status_type", "updated_by", "updated_by_name", "user_id",
        "user_name", "value", "value_period",
    ),
}  # fmt: skip
DEFAULT_FIELDS["lead_opps"] = DEFAULT_FIELDS["opps"]
FLAGS = (
    "include_activities",
    "include_smart_fields",
    "include_addresses",
    "include_custom_objects",
)
COMMON = (
    Field("format", "enum", choices=FORMATS, required=True, nullable=False),
    Field("date_format", "enum", choices=DATE_FORMATS, nullable=False),
    Field("fields", "str_list", max_items=1000),
    Field("send_done_email", "bool", nullable=False),
    *(Field(flag, "bool", nullable=False) for flag in FLAGS),
)
LEAD_FIELDS = FieldSet(
    (
        *COMMON,
        Field("type", "enum", choices=LEAD_TYPES, required=True, nullable=False),
        Field("s_query", "any"),
        Field("query", "str", max_length=10_000),
        Field("sort", "object_list", max_items=10),
        Field("results_limit", "int", minimum=1, maximum=bulk_selection.RESULTS_LIMIT_MAX),
    )
)
OPPORTUNITY_FIELDS = FieldSet((*COMMON, Field("params", "object")))
LIST = ListSpec(filters={}, orderings={"date_created": OrderSpec("date_created")})


@dataclass(frozen=True)
class Kind:
    name: str  # lead | opportunity
    fields: FieldSet
    values: Callable[[Connection, Actor, dict[str, Any]], dict[str, Any]]
    select: Callable[[Connection, Actor, dict[str, Any]], list[str]]
    shown: tuple[str, ...]  # the kind's own keys on the export object


def _combination(values: dict[str, Any], export_type: str) -> None:
    """Close's "only works for" rules (more.md §9.2), as 400s naming the flag."""
    json_leads = values["format"] == "json" and export_type == "leads"
    errors = {}
    if values.get("include_activities") and not json_leads:
        errors["include_activities"] = (
            "include_activities can only be used together with format json and type leads."
        )
    if values.get("include_smart_fields") and values["format"] == "json" and not json_leads:
        errors["include_smart_fields"] = (
            "include_smart_fields can only be used together with type leads or format csv."
        )
    if errors:
        raise InvalidRequest(field_errors=errors)


def _lead_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    _combination(values, values["type"])
    # Checked now, so a bad search is the caller's 400, not a failed job later.
    bulk_selection.parse(conn, ctx.org, ctx.user_id, ctx.tz, _search_body(values))
    return {
        "type": values["type"],
        **{k: values.get(k) for k in ("s_query", "query", "results_limit")},
        "sort": values.get("sort") or [],
    }


def _search_body(data: dict[str, Any]) -> dict[str, Any]:
    """The job's search; no ``s_query`` and no ``query`` exports every lead (Close's default)."""
    if data.get("s_query") is None and data.get("query") in (None, ""):
        return {**data, "s_query": EVERY_LEAD}
    return data


def _select_leads(conn: Connection, ctx: Actor, data: dict[str, Any]) -> list[str]:
    search = bulk_selection.parse(conn, ctx.org, ctx.user_id, ctx.tz, _search_body(data))
    return bulk_selection.lead_ids(conn, ctx.org, search, ctx.tz, data.get("results_limit"))


def _params(values: dict[str, Any]) -> dict[str, str]:
    raw = values.get("params") or {}
    return {str(k): v if isinstance(v, str) else grammar_text(v) for k, v in raw.items()}


def grammar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(grammar_text(v) for v in value)
    return "" if value is None else str(value)


def _opportunity_query(conn: Connection, ctx: Actor, params: dict[str, str]) -> Any:
    filters = {k: v for k, v in params.items() if not k.startswith("_")}
    try:
        query = grammar.parse(filters, opportunities.LIST, ctx.tz)
    except InvalidRequest as exc:
        problems = [*exc.errors, *(f"{k}: {v}" for k, v in exc.field_errors.items())]
        message = f"Invalid query: {'; '.join(problems)}"
        raise InvalidRequest(field_errors={"params": message}) from None
    return search_listing.with_lead_query(conn, ctx.org, ctx.user_id, ctx.tz, query)


def _opportunity_values(conn: Connection, ctx: Actor, values: dict[str, Any]) -> dict[str, Any]:
    _combination(values, "opps")
    params = _params(values)
    _opportunity_query(conn, ctx, params)
    return {"type": "opps", "params": params}


def _select_opportunities(conn: Connection, ctx: Actor, data: dict[str, Any]) -> list[str]:
    query = _opportunity_query(conn, ctx, dict(data.get("params") or {}))
    return opportunities.matching_ids(conn, ctx.org, query)


KINDS: dict[str, Kind] = {
    "lead": Kind(
        "lead",
        LEAD_FIELDS,
        _lead_values,
        _select_leads,
        ("s_query", "query", "results_limit", "sort"),
    ),
    "opportunity": Kind(
        "opportunity", OPPORTUNITY_FIELDS, _opportunity_values, _select_opportunities, ("params",)
    ),
}


# --- rendering and writes ---------------------------------------------------------------------


def download_path(export_id: str) -> str:
    return f"/api/v1/export/{export_id}/download/"


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        data = r.data or {}
        done = r.status == "done"
        out.append(
            {
                "id": r.id,
                "organization_id": r.organization_id,
                "type": data.get("type"),
                "format": data.get("format"),
                "date_format": data.get("date_format"),
                "fields": data.get("fields"),
                **{name: data.get(name) for name in KINDS[r.kind].shown},
                **{flag: data.get(flag, False) for flag in FLAGS},
                "status": r.status,
                "n_docs": r.n_docs,
                "n_docs_processed": r.n_docs_processed,
                "download_url": (data.get("base_url", "") + download_path(r.id)) if done else None,
                "send_done_email": data.get("send_done_email", True),
                "created_by": r.created_by,
                "updated_by": r.updated_by,
                "date_created": r.date_created,
                "date_updated": r.date_updated,
            }
        )
    return out


def _creator(kind: Kind) -> Callable[[Call], dict[str, Any]]:
    def handle(ctx: Call) -> dict[str, Any]:
        base_url = ctx.settings.public_url.rstrip("/")
        with ctx.db.write() as conn:
            return project(create(conn, ctx, ctx.body, base_url), ctx.params)

    def create(conn: Connection, ctx: Actor, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        values = kind.fields.validate(body, creating=True, tz=ctx.tz)
        own = kind.values(conn, ctx, values)
        data = {
            **own,
            "format": values["format"],
            "date_format": values.get("date_format") or "original",
            "fields": values.get("fields") or list(DEFAULT_FIELDS[own["type"]]),
            "fields_given": values.get("fields") is not None,
            **{flag: values.get(flag, False) for flag in FLAGS},
            "send_done_email": values.get("send_done_email", True),
            "base_url": base_url,
            "tz": ctx.tz,
        }
        now = dates.now()
        columns = {
            "kind": kind.name,
            "status": "created",
            "data": data,
            "selection": None,
            "n_docs": None,
            "n_docs_processed": 0,
            "due_at": now,  # its first step (loading the selection) runs at once
            "date_created": now,
            "date_updated": now,
        }
        return repository.insert_row(conn, SPECS[kind.name], ctx, columns)

    return handle


def _batch(conn: Connection, org: str, row: Row[Any], ids: list[str]) -> None:
    data = row.data or {}
    docs = export_docs.BUILDERS[data["type"]](conn, org, ids, bool(data.get("include_activities")))
    # JSON keeps whole objects unless fields were asked for; CSV always has its columns.
    wanted = data.get("fields") if data.get("fields_given") or data["format"] == "csv" else None
    docs = [export_docs.project(doc, wanted) for doc in docs]
    conn.execute(
        insert(PART).values(
            organization_id=org,
            export_id=row.id,
            seq=row.n_docs_processed // BATCH,
            body=export_docs.part_body(docs, data["format"]),
        )
    )


def _finish(conn: Connection, org: str, row: Row[Any]) -> None:
    data = row.data or {}
    scope = (PART.c.organization_id == org, PART.c.export_id == row.id)
    parts = [r[0] for r in conn.execute(select(PART.c.body).where(*scope).order_by(PART.c.seq))]
    content = export_docs.assemble(parts, data["format"], data.get("date_format") or "original")
    conn.execute(
        insert(FILE).values(
            organization_id=org,
            export_id=row.id,
            content_type=export_docs.CONTENT_TYPES[data["format"]],
            size=len(content),
            content=export_docs.encode(content),
        )
    )
    conn.execute(delete(PART).where(*scope))


def step(conn: Connection, ctx: Context, row: Row[Any]) -> dict[str, Any]:
    """Run the job's next step (load, or one batch); return what it did, for ``advance``."""
    kind = KINDS[row.kind]
    spec = SPECS[kind.name]
    before = repository.render_one(conn, spec, ctx.org, row.id)
    if row.status == "created":
        ids = kind.select(conn, ctx, dict(row.data or {}))
        changes: dict[str, Any] = {"status": "started", "selection": ids, "n_docs": len(ids)}
        done = {"step": "loaded", "n_docs": len(ids)}
    else:
        ids = list(row.selection or [])
        batch = ids[row.n_docs_processed : row.n_docs_processed + BATCH]
        _batch(conn, ctx.org, row, batch)
        changes = {"status": "in_progress", "n_docs_processed": row.n_docs_processed + len(batch)}
        done = {"step": "batch", "n_docs": len(batch)}
    finished = changes.get("n_docs_processed", row.n_docs_processed) >= len(ids)
    if finished:
        _finish(conn, ctx.org, row)
        changes["status"] = "done"
    after = repository.save_step(conn, spec, ctx, before, changes, finished)
    return {**done, "status": after["status"]}


def fail(conn: Connection, ctx: Context, row: Row[Any]) -> dict[str, Any]:
    """A step the data refuses (a search that no longer parses...): the job ends ``error``
    instead of being retried by every round."""
    spec = SPECS[row.kind]
    before = repository.render_one(conn, spec, ctx.org, row.id)
    conn.execute(delete(PART).where(PART.c.organization_id == ctx.org, PART.c.export_id == row.id))
    # Ended, but not completed: no ``completed`` event for a job in error.
    ended = {"status": "error", "due_at": None}
    repository.save_step(conn, spec, ctx, before, ended, finished=False)
    return {"step": "failed", "status": "error"}


def download(ctx: Call) -> Response:
    """``GET /export/{id}/download/``: the gzipped file, as Close's storage serves it
    (``content-encoding: gzip``, so HTTP clients hand the caller the plain text)."""
    export_id = ctx.path_params["id"]
    with ctx.db.read() as conn:
        repository.get_row(conn, ANY, ctx.org, export_id)
        found = conn.execute(
            select(FILE.c.content_type, FILE.c.content).where(
                FILE.c.organization_id == ctx.org, FILE.c.export_id == export_id
            )
        ).first()
    if found is None:
        raise object_not_found("Export file")  # not done yet
    return Response(
        export_docs.decode(found.content),
        headers={
            "content-type": found.content_type,
            "content-encoding": "gzip",
            "content-disposition": f'attachment; filename="{export_id}.{_suffix(found)}.gz"',
        },
    )


def _suffix(found: Any) -> str:
    return "csv" if found.content_type == "text/csv" else "json"


def _spec(kind: Kind) -> ResourceSpec:
    return ResourceSpec(
        name=f"export_{kind.name}",
        path=f"/export/{kind.name}/",
        model="Export",
        table=E,
        id_prefix="expo",
        where=(E.c.kind == kind.name,),
        fields=kind.fields,
        list_spec=LIST,
        render=render_rows,
        event_type=f"export.{kind.name}",
        operations={
            "list": Operation(None, f"List {kind.name} exports"),
            "create": Operation(_creator(kind), f"Export {kind.name}s"),
            "get": Operation(None, f"Get a {kind.name} export"),
        },
        docs="https://developer.close.com/api/resources/exports",
    )


SPECS: dict[str, ResourceSpec] = {name: _spec(kind) for name, kind in KINDS.items()}
# ``/export/``: every export of the organization, of either kind, and its file.
ANY = ResourceSpec(
    name="export",
    path="/export/",
    model="Export",
    table=E,
    id_prefix="expo",
    list_spec=LIST,
    render=render_rows,
    operations={
        "list": Operation(None, "List exports"),
        "get": Operation(None, "Get an export"),
    },
    actions=(
        Action(
            "GET",
            "{id}/download/",
            Operation(
                download,
                "Download an export's file (gzip-encoded)",
                media_types=tuple(export_docs.CONTENT_TYPES.values()),
            ),
        ),
    ),
    docs="https://developer.close.com/api/resources/exports",
)
