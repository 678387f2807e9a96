"""Lead and opportunity status changes:
https://developer.close.com/api/resources/activities/lead-status-changes.md and
https://developer.close.com/api/resources/activities/opportunity-status-changes.md

The system writes one whenever a status really changes (``resources/leads.py``...). Creating
one through the API only logs history (imports of past changes): it never changes the lead's
or opportunity's status, and neither does deleting one. Labels, types, pipelines and the
opportunity's value are always filled from the ids, never taken from the body.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select

from crmapi.activities.sample import Sampler
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.domain.errors import DOES_NOT_EXIST, InvalidRequest
from crmapi.domain.fields import REQUIRED, Field
from crmapi.query.model import id_filters
from crmapi.resources.users import CURRENCY_SYMBOLS
from crmapi.storage import tables as t
from crmapi.util import dates

VERBS = frozenset({"list", "get", "create", "delete"})


def _status_ids() -> tuple[Field, Field]:
    # Field errors use the model names, as for lead/contact/status elsewhere.
    return (
        Field("old_status_id", "id", required=True, update=False, error_key="old_status"),
        Field("new_status_id", "id", required=True, update=False, error_key="new_status"),
    )


def _lookup(wc: Any, table: Any, ids: dict[str, str]) -> dict[str, Any]:
    """The status rows named by ``ids`` (error key -> id); one 400 naming every unknown id."""
    rows = wc.conn.execute(
        select(table).where(table.c.organization_id == wc.org, table.c.id.in_(set(ids.values())))
    ).all()
    found = {r.id: r for r in rows}
    missing = {key: DOES_NOT_EXIST for key, status_id in ids.items() if status_id not in found}
    if missing:
        raise InvalidRequest(field_errors=missing)
    return found


def prepare_lead(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    if existing is not None:
        return
    ids = {"old_status": obj["old_status_id"], "new_status": obj["new_status_id"]}
    found = _lookup(wc, t.lead_status, ids)
    obj["old_status_label"] = found[obj["old_status_id"]].label
    obj["new_status_label"] = found[obj["new_status_id"]].label


def _opportunity(wc: Any, obj: dict[str, Any]) -> Any | None:
    """The opportunity named by the body (its lead fills or must match ``lead_id``)."""
    opportunity_id = obj.get("opportunity_id")
    if opportunity_id is None:
        if obj.get("lead_id") is None:
            raise InvalidRequest(field_errors={"lead": REQUIRED})
        return None
    o = t.opportunity
    row = wc.conn.execute(
        select(o).where(o.c.organization_id == wc.org, o.c.id == opportunity_id)
    ).first()
    if row is None:
        raise InvalidRequest(field_errors={"opportunity": DOES_NOT_EXIST})
    if obj.get("lead_id") is None:
        obj["lead_id"] = row.lead_id
    elif obj["lead_id"] != row.lead_id:
        raise InvalidRequest(field_errors={"lead": "The opportunity belongs to another lead."})
    return row


def _formatted(cents: int | None, currency: str) -> str | None:
    if cents is None:
        return None
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    amount = f"{cents / 100:,.2f}".removesuffix(".00")
    return f"-{symbol}{amount[1:]}" if amount.startswith("-") else f"{symbol}{amount}"


def _copy_value(wc: Any, obj: dict[str, Any], opp: Any) -> None:
    currency = wc.conn.execute(
        select(t.organization.c.currency).where(t.organization.c.id == wc.org)
    ).scalar()
    currency = currency or "USD"
    obj["opportunity_value"] = opp.value
    obj["opportunity_value_currency"] = currency
    obj["opportunity_value_formatted"] = _formatted(opp.value, currency)
    obj["opportunity_value_period"] = opp.value_period
    obj["opportunity_confidence"] = opp.confidence
    obj["opportunity_date_won"] = dates.parse(opp.date_won) if opp.date_won else None


def prepare_opportunity(
    wc: Any, obj: dict[str, Any], sent: dict[str, Any], existing: dict[str, Any] | None
) -> None:
    if existing is not None:
        return
    opp = _opportunity(wc, obj)
    ids = {"old_status": obj["old_status_id"], "new_status": obj["new_status_id"]}
    found = _lookup(wc, t.opportunity_status, ids)
    pipe_ids = {s.pipeline_id for s in found.values()}
    p = t.pipeline
    names = dict(
        wc.conn.execute(
            select(p.c.id, p.c.name).where(p.c.organization_id == wc.org, p.c.id.in_(pipe_ids))
        ).all()
    )
    for side in ("old", "new"):
        status = found[obj[f"{side}_status_id"]]
        obj[f"{side}_status_label"] = status.label
        obj[f"{side}_status_type"] = status.type
        obj[f"{side}_pipeline_id"] = status.pipeline_id
        obj[f"{side}_pipeline_name"] = names.get(status.pipeline_id)
    if opp is not None:
        _copy_value(wc, obj, opp)


def lead_sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    old, new = gen.rng.sample(gen.lead_statuses, 2)
    return [
        gen.base(
            "LeadStatusChange",
            lead_id,
            when,
            {
                "old_status_id": old["id"],
                "old_status_label": old["label"],
                "new_status_id": new["id"],
                "new_status_label": new["label"],
            },
        )
    ]


LEAD_SPEC = ActivitySpec(
    type="LeadStatusChange",
    path="status_change/lead",
    event_type="lead_status_change",
    verbs=VERBS,
    fields=(
        *_status_ids(),
        readonly("old_status_label"),
        readonly("new_status_label"),
        readonly("_paused_subscriptions", "object_list", ()),
        USERS,
        COMMENT_SUMMARY,
    ),
    prepare=prepare_lead,
    docs="https://developer.close.com/api/resources/activities/lead-status-changes",
    sample=lead_sample,
    sample_weight=5,  # percent of a seeded feed
)


def opportunity_sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    value = gen.rng.choice([50000, 120000, 990000])
    return [
        gen.base(
            "OpportunityStatusChange",
            lead_id,
            when,
            {
                "opportunity_id": gen.new_id("oppo"),
                "old_status_label": "Active",
                "old_status_type": "active",
                "new_status_label": gen.rng.choice(["Won", "Lost"]),
                "new_status_type": "won",
                "opportunity_value": value,
                "opportunity_value_currency": "USD",
                "opportunity_value_formatted": f"${value // 100:,}",
                "opportunity_value_period": "one_time",
                "opportunity_confidence": 100,
            },
        )
    ]


OPPORTUNITY_SPEC = ActivitySpec(
    type="OpportunityStatusChange",
    path="status_change/opportunity",
    event_type="opportunity_status_change",
    verbs=VERBS,
    lead_required=False,  # the opportunity names its lead; prepare insists on one of them
    fields=(
        Field("opportunity_id", "id", update=False, error_key="opportunity"),
        *_status_ids(),
        readonly("old_status_label"),
        readonly("old_status_type"),
        readonly("new_status_label"),
        readonly("new_status_type"),
        readonly("old_pipeline_id"),
        readonly("old_pipeline_name"),
        readonly("new_pipeline_id"),
        readonly("new_pipeline_name"),
        readonly("opportunity_value", "int"),
        readonly("opportunity_value_currency"),
        readonly("opportunity_value_formatted"),
        readonly("opportunity_value_period"),
        readonly("opportunity_confidence", "int"),
        readonly("opportunity_date_won"),
        USERS,
        COMMENT_SUMMARY,
    ),
    prepare=prepare_opportunity,
    filters=id_filters("opportunity_id", column="data.opportunity_id"),
    docs="https://developer.close.com/api/resources/activities/opportunity-status-changes",
    sample=opportunity_sample,
    sample_weight=2,  # percent of a seeded feed
)
