"""Opportunities (``/opportunity/``): deals on a lead, with a value, a confidence and a status.

Moving an opportunity to another status writes an ``OpportunityStatusChange`` activity; moving
it to a ``won`` status sets ``date_won`` (the caller's today) unless it is set or sent.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy import update as sql_update

from crmapi.activities import write
from crmapi.activities.registry import BY_TYPE
from crmapi.domain.context import Actor, Call
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import Field, FieldSet
from crmapi.events.emit import emit_change
from crmapi.query import compile as qc
from crmapi.query import grammar
from crmapi.query.model import (
    FilterSpec,
    ListQuery,
    ListSpec,
    ModeSpec,
    OrderSpec,
    id_filters,
)
from crmapi.query.model import range_filters as ranges
from crmapi.resources import (
    comment_threads,
    custom_values,
    leads,
    opportunity_groups,
    pipelines,
    repository,
)
from crmapi.resources.handlers import creating, deleting, updating
from crmapi.resources.render import listing, project
from crmapi.resources.spec import Embed, LeadChild, Operation, ResourceSpec
from crmapi.resources.users import CURRENCY_SYMBOLS, user_names
from crmapi.search import exact
from crmapi.search import listing as search
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import new_id

OPP = t.opportunity
PERIODS = ("one_time", "monthly", "annual")
MAX_VALUE = 2**53  # cents; what a JSON number carries exactly

FIELDS = FieldSet(
    (
        Field("lead_id", "id", update=False, error_key="lead", references="lead"),
        Field("status_id", "id", nullable=False, error_key="status"),
        Field("status", "str", nullable=False, max_length=255),
        Field("pipeline_id", "id", error_key="pipeline", references="pipeline"),
        Field("contact_id", "id", error_key="contact"),  # and of the same lead: _check_people
        Field("user_id", "id", nullable=False, error_key="user", references="user"),
        Field("confidence", "int", minimum=0, maximum=100),
        Field("value", "int", minimum=-MAX_VALUE, maximum=MAX_VALUE),
        Field("value_period", "enum", choices=PERIODS),
        Field("note", "str", max_length=100_000),
        Field("date_won", "date"),
        Field("date_created", "datetime", nullable=False, update=False),
        Field(
            "created_by",
            "id",
            nullable=False,
            update=False,
            error_key="created_by",
            references="user",
        ),
        Field("attachments", "object_list", max_items=100),
    )
)


# --- list declarations ---------------------------------------------------------------------


def _status_subquery(column: str, values: list[Any], table: Table) -> ColumnElement[bool]:
    """Opportunities whose status has ``column`` in ``values`` (status attributes live there)."""
    s = t.opportunity_status
    matching = select(s.c.id).where(
        s.c.organization_id == table.c.organization_id, s.c[column].in_(values)
    )
    return table.c.status_id.in_(matching.scalar_subquery())


def _status_attribute(column: str, choices: tuple[str, ...] = ()) -> FilterSpec:
    """A filter on an attribute of the status (``type``, ``label``), comma lists allowed."""
    return FilterSpec(
        "status_id",
        "in",
        "str",
        multi=True,
        choices=choices,
        sql=lambda table, values: _status_subquery(column, values, table),
    )


def _date_only(text: str) -> str:
    """``date_won`` is a calendar date; compare dates with dates."""
    return dates.parse(text)[:10]


def _in_and_plain(name: str, spec: FilterSpec) -> dict[str, FilterSpec]:
    return {name: spec, f"{name}__in": spec}


_STATUS_TYPE = _status_attribute("type", pipelines.STATUS_TYPES)
_STATUS_LABEL = _status_attribute("label")

LIST = ListSpec(
    filters={
        **id_filters("id"),
        **id_filters("lead_id"),
        **id_filters("user_id"),
        **id_filters("status_id"),
        **id_filters("contact_id"),
        **_in_and_plain("status_type", _STATUS_TYPE),
        **_in_and_plain("status_label", _STATUS_LABEL),
        **_in_and_plain("status", _STATUS_LABEL),  # deprecated spelling of status_label
        **_in_and_plain(
            "value_period",
            FilterSpec("value_period", "in", "str", multi=True, choices=PERIODS),
        ),
        "date_won": FilterSpec("date_won", "eq", "str", check=_date_only, pattern=dates.PATTERN),
        **{
            k: FilterSpec("date_won", v.op, "str", check=_date_only, pattern=dates.PATTERN)
            for k, v in ranges("date_won").items()
        },
        **ranges("date_created"),
        **ranges("date_updated"),
        "date_created": exact.exact_date("date_created"),
        "date_updated": exact.exact_date("date_updated"),
        "is_stalled": exact.constant(False),  # nothing stalls here (is_stalled is always false)
        "lead_query": search.SEARCH_PARAM,
        "lead_saved_search_id": search.SEARCH_PARAM,
    },
    orderings={
        name: OrderSpec(name)
        for name in (
            "date_won",
            "date_updated",
            "date_created",
            "confidence",
            "user_name",
            "value",
            "annualized_value",
            "annualized_expected_value",
        )
    },
    default_order="-date_created",
    # Airbyte pages opportunities 250 at a time.
    max_limit=1000,
    modes={
        "_group_by": ModeSpec(
            opportunity_groups.CHOICES,
            "Group the page's opportunities (`-` reverses the group order).",
        )
    },
)


def _annualized(table: Table) -> ColumnElement[Any]:
    return case((table.c.value_period == "monthly", table.c.value * 12), else_=table.c.value)


def _order_expression(name: str) -> ColumnElement[Any]:
    """Orderings that are not a plain column are computed the way the object computes them."""
    if name == "annualized_value":
        return _annualized(OPP)
    if name == "annualized_expected_value":
        return _annualized(OPP) * OPP.c.confidence
    if name == "user_name":
        u = t.user
        name_sql = func.coalesce(u.c.first_name, "") + " " + func.coalesce(u.c.last_name, "")
        return select(name_sql).where(u.c.id == OPP.c.user_id).scalar_subquery()
    return OPP.c[name]


def _scope(org_id: str, query: ListQuery) -> ColumnElement[bool]:
    return and_(OPP.c.organization_id == org_id, *qc.where(OPP, query))


def _ordered(key: ColumnElement[Any], descending: bool) -> tuple[ColumnElement[Any], ...]:
    # Empty values (no value, not won yet) sort as the smallest on both backends.
    present = case((key.is_(None), 0), else_=1)
    if descending:
        return (present.desc(), key.desc())
    return (present.asc(), key.asc())


def _page(
    org_id: str, query: ListQuery, grouping: opportunity_groups.Grouping | None = None
) -> Select[Any]:
    order = _ordered(_order_expression(query.order_column), query.descending)
    tie = OPP.c.id.desc() if query.descending else OPP.c.id.asc()
    stmt = select(OPP)
    if grouping is not None:
        # Groups first (their order, then their key), the list's own order within each.
        key = grouping.key(OPP)
        reverse = _group_direction(query)
        order = (*_ordered(grouping.order(OPP), reverse), *_ordered(key, reverse), *order)
        stmt = select(OPP, key.label("group_key"))
    return (
        stmt.where(_scope(org_id, query))
        .order_by(*order, tie)
        .offset(query.skip)
        .limit(query.limit + 1)
    )


def _group_direction(query: ListQuery) -> bool:
    return opportunity_groups.parse(query.params["_group_by"].strip().lower())[1]


def aggregates(
    conn: Connection, org_id: str, query: ListQuery, *within: ColumnElement[bool]
) -> dict[str, Any]:
    """``total_results`` and the value sums over every match (``within`` one group),
    regardless of paging."""
    rows = conn.execute(
        select(
            OPP.c.value_period,
            func.count(),
            func.coalesce(func.sum(OPP.c.value), 0),
            func.coalesce(func.sum(OPP.c.value * OPP.c.confidence), 0),
        )
        .where(_scope(org_id, query), *within)
        .group_by(OPP.c.value_period)
    ).all()
    counts = {p: 0 for p in PERIODS}
    totals = {p: 0 for p in PERIODS}
    expected = {p: 0 for p in PERIODS}
    for period, n, total, weighted in rows:
        counts[period] = int(n)
        totals[period] = int(total)
        expected[period] = round(int(weighted) / 100)
    out: dict[str, Any] = {
        "total_results": sum(counts.values()),
        "count_by_value_period": counts,
    }
    for period in PERIODS:
        out[f"total_value_{period}"] = totals[period]
        out[f"expected_value_{period}"] = expected[period]
    out["total_value_annualized"] = totals["one_time"] + totals["annual"] + 12 * totals["monthly"]
    out["expected_value_annualized"] = (
        expected["one_time"] + expected["annual"] + 12 * expected["monthly"]
    )
    return out


# --- rendering -----------------------------------------------------------------------------


def format_value(value: int | None, currency: str, period: str) -> str | None:
    """Close's display form: ``$500``, ``$50 monthly``, ``$1,250.50 annual``."""
    if value is None:
        return None
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    amount = abs(value)
    text = f"{amount // 100:,}" if amount % 100 == 0 else f"{amount / 100:,.2f}"
    sign = "-" if value < 0 else ""
    suffix = "" if period == "one_time" else f" {period}"
    return f"{sign}{symbol}{text}{suffix}"


def _computed(value: int | None, period: str, confidence: int) -> dict[str, int | None]:
    if value is None:
        return {"expected_value": None, "annualized_value": None, "annualized_expected_value": None}
    annualized = value * 12 if period == "monthly" else value
    return {
        "expected_value": round(value * confidence / 100),
        "annualized_value": annualized,
        "annualized_expected_value": round(annualized * confidence / 100),
    }


def currency(conn: Connection, org_id: str) -> str:
    found = conn.execute(
        select(t.organization.c.currency).where(t.organization.c.id == org_id)
    ).scalar()
    return str(found or "USD")


def render_rows(
    conn: Connection, org_id: str, rows: Sequence[Row[Any]], tz: float = 0.0
) -> list[dict[str, Any]]:
    """A page of opportunities in a fixed number of queries."""
    if not rows:
        return []
    status_by_id = pipelines.status_map(conn, org_id)
    money = currency(conn, org_id)
    names = user_names(conn, {u for r in rows for u in (r.user_id, r.created_by, r.updated_by)})
    lead_names = repository.names(conn, t.lead, org_id, {r.lead_id for r in rows})
    contact_names = repository.names(conn, t.contact, org_id, {r.contact_id for r in rows})
    comments = comment_threads.summaries(conn, org_id, [r.id for r in rows])
    return [
        {
            **_render(r, status_by_id, money, names, lead_names, contact_names),
            "comment_summary": comments.get(r.id),
        }
        for r in rows
    ]


def _render(
    r: Row[Any],
    status_by_id: dict[str, dict[str, Any]],
    money: str,
    names: dict[str, str],
    lead_names: dict[str, Any],
    contact_names: dict[str, Any],
) -> dict[str, Any]:
    status = status_by_id.get(r.status_id, {})
    obj: dict[str, Any] = {
        "id": r.id,
        "organization_id": r.organization_id,
        "lead_id": r.lead_id,
        "lead_name": lead_names.get(r.lead_id),
        "status_id": r.status_id,
        "status_label": status.get("label"),
        "status_display_name": status.get("label"),
        "status_type": status.get("type"),
        "pipeline_id": status.get("pipeline_id"),
        "pipeline_name": status.get("pipeline_name"),
        "user_id": r.user_id,
        "user_name": names.get(r.user_id),
        "contact_id": r.contact_id,
        "contact_name": contact_names.get(r.contact_id),
        "confidence": r.confidence,
        "value": r.value,
        "value_period": r.value_period,
        "value_currency": money,
        "value_formatted": format_value(r.value, money, r.value_period),
        **_computed(r.value, r.value_period, r.confidence),
        "note": r.note,
        "date_won": r.date_won,
        "date_lost": r.date_lost,
        "attachments": r.attachments or [],
        "integration_links": [],
        "is_stalled": False,
        "stall_status": None,
        "created_by": r.created_by,
        "updated_by": r.updated_by,
        "created_by_name": names.get(r.created_by),
        "updated_by_name": names.get(r.updated_by),
        "date_created": r.date_created,
        "date_updated": r.date_updated,
    }
    obj.update(custom_values.render(r.custom))
    return obj


def render_one(conn: Connection, org_id: str, opportunity_id: str) -> dict[str, Any]:
    return repository.render_one(conn, SPEC, org_id, opportunity_id)


# --- writes --------------------------------------------------------------------------------


def _emit(
    conn: Connection,
    ctx: Actor,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    emit_change(conn, ctx, "opportunity", action, before, after)


def _resolve_status(
    conn: Connection, org_id: str, values: dict[str, Any], current: str | None
) -> dict[str, Any] | None:
    """The status named by ``status_id``/``status``/``pipeline_id`` (None: keep ``current``)."""
    if "status_id" in values and "status" in values:
        raise InvalidRequest(
            field_errors={"status": "Send status_id or status (a label), not both."}
        )
    pipeline_id = values.get("pipeline_id")
    repository.check_references(conn, org_id, [FIELDS.by_name["pipeline_id"]], values)
    if "status_id" in values:
        status = pipelines.opportunity_status(conn, org_id, values["status_id"])
        if status is None:
            raise InvalidRequest(field_errors={"status": DOES_NOT_EXIST})
    elif "status" in values:
        status = pipelines.status_by_label(conn, org_id, values["status"], pipeline_id)
        if status is None:
            raise InvalidRequest(
                field_errors={"status": f"No opportunity status named {values['status']!r}."}
            )
    elif current is None or (
        pipeline_id is not None
        and (pipelines.opportunity_status(conn, org_id, current) or {}).get("pipeline_id")
        != pipeline_id
    ):
        # New opportunity, or moved to another pipeline: the pipeline's first status.
        status = pipelines.first_status(conn, org_id, pipeline_id)
        if status is None:
            raise InvalidRequest(["The pipeline has no opportunity statuses; create one first."])
    else:
        return None
    if pipeline_id is not None and status["pipeline_id"] != pipeline_id:
        raise InvalidRequest(
            field_errors={"status": "The status does not belong to the given pipeline."}
        )
    return status


def _check_people(conn: Connection, ctx: Actor, values: dict[str, Any], lead_id: str) -> None:
    people = [FIELDS.by_name["user_id"], FIELDS.by_name["created_by"]]
    errors = repository.missing_references(conn, ctx.org, people, values)
    errors.update(repository.contact_on_lead(conn, ctx.org, values.get("contact_id"), lead_id))
    if errors:
        raise InvalidRequest(field_errors=errors)


def _lead_for_create(conn: Connection, ctx: Actor, values: dict[str, Any], now: str) -> str:
    lead_id = values.get("lead_id")
    if lead_id is None and values.get("contact_id") is not None:
        lead_id = repository.contact_lead(conn, ctx.org, values["contact_id"])
    if lead_id is not None:
        lead_field = [FIELDS.by_name["lead_id"]]
        repository.check_references(conn, ctx.org, lead_field, {"lead_id": lead_id})
        return str(lead_id)
    # Close creates an unnamed ("Untitled") lead for an opportunity sent without one.
    lead_id = leads.insert_lead(conn, ctx, {}, now)
    leads.emit_event(conn, ctx, "created", None, leads.render_one(conn, ctx.org, lead_id))
    return lead_id


def _won_lost_dates(
    ctx: Actor, status: dict[str, Any], values: dict[str, Any], row: Row[Any] | None, now: str
) -> dict[str, Any]:
    """Entering a won status dates the win (caller's today); entering a lost one, the loss."""
    out: dict[str, Any] = {}
    has_date_won = "date_won" in values or (row is not None and row.date_won is not None)
    if status["type"] == "won" and not has_date_won:
        out["date_won"] = dates.today(ctx.tz)
    if status["type"] == "lost":
        out["date_lost"] = now
    return out


def create(conn: Connection, ctx: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and store a new opportunity (and its lead, when none is given); emit it."""
    now = dates.now()
    values = FIELDS.validate(body, creating=True, tz=ctx.tz)
    custom = custom_values.validate(conn, ctx.org, "opportunity", body)
    status = _resolve_status(conn, ctx.org, values, None)
    assert status is not None
    lead_id = _lead_for_create(conn, ctx, values, now)
    _check_people(conn, ctx, values, lead_id)
    opportunity_id = new_id("oppo")
    row = {
        "id": opportunity_id,
        "organization_id": ctx.org,
        "lead_id": lead_id,
        "status_id": status["id"],
        "user_id": values.get("user_id") or ctx.user_id,
        "contact_id": values.get("contact_id"),
        "value": values.get("value"),
        "value_period": values.get("value_period") or "one_time",
        "confidence": values.get("confidence") or 0,
        "note": values.get("note"),
        "date_won": values.get("date_won"),
        "date_lost": None,
        "custom": custom_values.merge({}, custom),
        "attachments": values.get("attachments") or [],
        "created_by": values.get("created_by") or ctx.user_id,
        "updated_by": ctx.user_id,
        "date_created": values.get("date_created") or now,
        "date_updated": now,
    }
    row.update(_won_lost_dates(ctx, status, values, None, now))
    conn.execute(insert(OPP).values(**row))
    repository.touch_lead(conn, ctx.org, lead_id, ctx.user_id, now)
    created = render_one(conn, ctx.org, opportunity_id)
    _emit(conn, ctx, "created", None, created)
    return created


def update(
    conn: Connection, ctx: Actor, opportunity_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """PUT semantics (only what is sent changes); a status change writes its activity."""
    now = dates.now()
    row = repository.get_row(conn, SPEC, ctx.org, opportunity_id)
    before = render_rows(conn, ctx.org, [row])[0]
    values = FIELDS.validate(body, creating=False, tz=ctx.tz)
    _check_people(conn, ctx, values, row.lead_id)
    status = _resolve_status(conn, ctx.org, values, row.status_id)
    changes: dict[str, Any] = {
        k: values[k]
        for k in ("user_id", "contact_id", "value", "note", "date_won", "attachments")
        if k in values
    }
    if "value_period" in values:
        changes["value_period"] = values["value_period"] or "one_time"
    if "confidence" in values:
        changes["confidence"] = values["confidence"] or 0
    custom = custom_values.validate(conn, ctx.org, "opportunity", body)
    if custom:
        changes["custom"] = custom_values.merge(row.custom, custom)
    moved = status is not None and status["id"] != row.status_id
    if status is not None and moved:
        changes["status_id"] = status["id"]
        changes.update(_won_lost_dates(ctx, status, values, row, now))
    conn.execute(
        update_stmt(ctx.org, opportunity_id).values(
            **changes, updated_by=ctx.user_id, date_updated=now
        )
    )
    repository.touch_lead(conn, ctx.org, row.lead_id, ctx.user_id, now)
    after = render_one(conn, ctx.org, opportunity_id)
    if moved:
        status_change(conn, ctx, before, after, now)
    _emit(conn, ctx, "updated", before, after)
    return after


def update_stmt(org_id: str, opportunity_id: str) -> Any:
    return sql_update(OPP).where(OPP.c.organization_id == org_id, OPP.c.id == opportunity_id)


def status_change(
    conn: Connection, ctx: Actor, before: dict[str, Any], after: dict[str, Any], now: str
) -> dict[str, Any]:
    """The ``OpportunityStatusChange`` Close writes for a status change, by the caller."""
    wc = write.write_context(ctx, conn)
    wc.now = now
    date_won = after["date_won"]
    return write.system_create(
        wc,
        BY_TYPE["OpportunityStatusChange"],
        {
            "lead_id": after["lead_id"],
            "opportunity_id": after["id"],
            "old_status_id": before["status_id"],
            "old_status_label": before["status_label"],
            "old_status_type": before["status_type"],
            "new_status_id": after["status_id"],
            "new_status_label": after["status_label"],
            "new_status_type": after["status_type"],
            "old_pipeline_id": before["pipeline_id"],
            "old_pipeline_name": before["pipeline_name"],
            "new_pipeline_id": after["pipeline_id"],
            "new_pipeline_name": after["pipeline_name"],
            "opportunity_value": after["value"],
            "opportunity_value_currency": after["value_currency"],
            "opportunity_value_formatted": after["value_formatted"],
            "opportunity_value_period": after["value_period"],
            "opportunity_confidence": after["confidence"],
            "opportunity_date_won": dates.parse(date_won) if date_won else None,
        },
    )


def remove(conn: Connection, ctx: Actor, opportunity_id: str) -> dict[str, Any]:
    """Delete one opportunity; its status-change history stays in the lead's feed."""
    before = render_one(conn, ctx.org, opportunity_id)
    comment_threads.remove_for(
        conn, ctx.org, [opportunity_id], comment_threads.request_emitter(conn, ctx)
    )
    conn.execute(delete(OPP).where(OPP.c.organization_id == ctx.org, OPP.c.id == opportunity_id))
    repository.touch_lead(conn, ctx.org, before["lead_id"], ctx.user_id, dates.now())
    _emit(conn, ctx, "deleted", before, None)
    return before


# --- endpoints -----------------------------------------------------------------------------


def list_opportunities(ctx: Call) -> dict[str, Any]:
    query = grammar.parse(ctx.params, LIST, ctx.tz)
    group_by = (query.params.get("_group_by") or "").strip().lower()
    with ctx.db.read() as conn:
        query = search.with_lead_query(conn, ctx.org, ctx.user_id, ctx.tz, query)
        totals = aggregates(conn, ctx.org, query)
        if group_by:
            return _grouped(conn, ctx.org, query, opportunity_groups.parse(group_by)[0], totals)
        rows = conn.execute(_page(ctx.org, query)).all() if query.limit else []
        items = render_rows(conn, ctx.org, rows)
    return listing(items, query, **totals)


def _grouped(
    conn: Connection,
    org_id: str,
    query: ListQuery,
    grouping: opportunity_groups.Grouping,
    totals: dict[str, Any],
) -> dict[str, Any]:
    """A page whose ``data`` holds groups of its objects (``_fields`` applies to those)."""
    rows = conn.execute(_page(org_id, query, grouping)).all() if query.limit else []
    page = rows[: query.limit]
    key = grouping.key(OPP)

    def group_totals(value: str | None) -> dict[str, Any]:
        within = key.is_(None) if value is None else key == value
        return aggregates(conn, org_id, query, within)

    items = render_rows(conn, org_id, page)
    data = opportunity_groups.groups(items, [r.group_key for r in page], grouping, group_totals)
    for group in data:
        group["objects"] = [project(obj, query.params) for obj in group["objects"]]
    return {"data": data, "has_more": len(rows) > query.limit, **totals}


def matching_ids(conn: Connection, org_id: str, query: ListQuery) -> list[str]:
    """Every id a list query's filters match, in its order (an export's selection)."""
    whole = _page(org_id, query).offset(None).limit(None).with_only_columns(OPP.c.id)
    return [str(row[0]) for row in conn.execute(whole)]


SPEC = ResourceSpec(
    name="opportunity",
    path="/opportunity/",
    model="Opportunity",
    table=OPP,
    id_prefix="oppo",
    fields=FIELDS,
    list_spec=LIST,
    render=render_rows,
    event_type="opportunity",
    operations={
        "list": Operation(list_opportunities, "List opportunities"),
        "create": Operation(creating(create), "Create an opportunity"),
        "get": Operation(None, "Get an opportunity"),
        "update": Operation(updating(update), "Update an opportunity"),
        "delete": Operation(deleting(remove), "Delete an opportunity"),
    },
    # Leads carry all their opportunities.
    lead_child=LeadChild(Embed("opportunities", (OPP.c.date_created, OPP.c.id))),
    docs="https://developer.close.com/api/resources/opportunities",
)
