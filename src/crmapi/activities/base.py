"""Fields and list rules every activity shares (Close activities digest §2.2, §2.3, §3)."""

from typing import Any

from crmapi.domain.fields import Field
from crmapi.query.model import FilterSpec, ListSpec, OrderSpec, id_filters, range_filters

BASE_FIELDS: tuple[Field, ...] = (
    Field("lead_id", "id", error_key="lead", references="lead"),
    Field("contact_id", "id", error_key="contact", references="contact"),
    Field("user_id", "id", error_key="user", references="user"),
    Field("created_by", "id", error_key="created_by", references="user"),
    Field("date_created", "datetime", nullable=False),
    Field("activity_at", "datetime"),
)

# Columns of the activity table that are rendered as-is.
BASE_COLUMNS = (
    "id",
    "organization_id",
    "lead_id",
    "contact_id",
    "user_id",
    "created_by",
    "updated_by",
    "date_created",
    "date_updated",
    "activity_at",
)

SINGLE_LEAD = ("lead_id",)
SINGLE_LEAD_REASON = (
    "filtering by user, contact or type is only supported when listing the activities of a "
    "single lead."
)
SORT_REASON = "sorting by activity_at is only supported for a single lead's activities."


def _common_filters(lead_only: bool) -> dict[str, FilterSpec]:
    scoped: dict[str, Any] = (
        {"requires": SINGLE_LEAD, "requires_reason": SINGLE_LEAD_REASON} if lead_only else {}
    )
    return {
        **id_filters("id", column="id"),
        **id_filters("lead_id"),
        **id_filters("contact_id", **scoped),
        **id_filters("user_id", **scoped),
        "organization_id": FilterSpec("organization_id", "in", "id"),
        **range_filters("date_created", requires_order="date_created"),
        **range_filters("activity_at", requires_order="activity_at"),
    }


def orderings(activity_at_needs_lead: bool) -> dict[str, OrderSpec]:
    needs: dict[str, Any] = (
        {"requires": SINGLE_LEAD, "requires_reason": SORT_REASON} if activity_at_needs_lead else {}
    )
    return {
        "date_created": OrderSpec("date_created"),
        "activity_at": OrderSpec("activity_at", **needs),
    }


def feed_list_spec(type_filters: dict[str, FilterSpec]) -> ListSpec:
    """``GET /activity/``: user/contact/type filters and activity_at sorting need ``lead_id``."""
    filters = {**_common_filters(lead_only=True), **type_filters}
    filters.pop("id", None)
    return ListSpec(filters=filters, orderings=orderings(True), max_limit=100)


def typed_list_spec(extra: dict[str, FilterSpec]) -> ListSpec:
    """Typed lists (``/activity/call/``...): real scripts filter them by user without a lead."""
    filters = {**_common_filters(lead_only=False), **extra}
    filters.pop("id", None)
    return ListSpec(filters=filters, orderings=orderings(False), max_limit=100)
