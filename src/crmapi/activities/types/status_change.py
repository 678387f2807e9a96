"""Lead and opportunity status changes:
https://developer.close.com/api/resources/activities/lead-status-changes.md and
https://developer.close.com/api/resources/activities/opportunity-status-changes.md
"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import USERS, readonly
from crmapi.query.model import id_filters

LEAD_SPEC = ActivitySpec(
    type="LeadStatusChange",
    path="status_change/lead",
    event_type="lead_status_change",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("old_status_id"),
        readonly("old_status_label"),
        readonly("new_status_id"),
        readonly("new_status_label"),
        readonly("_paused_subscriptions", "object_list", ()),
        USERS,
    ),
    docs="https://developer.close.com/api/resources/activities/lead-status-changes",
)

OPPORTUNITY_SPEC = ActivitySpec(
    type="OpportunityStatusChange",
    path="status_change/opportunity",
    event_type="opportunity_status_change",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("opportunity_id"),
        readonly("old_status_id"),
        readonly("old_status_label"),
        readonly("old_status_type"),
        readonly("new_status_id"),
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
    ),
    filters=id_filters("opportunity_id", column="data.opportunity_id"),
    docs="https://developer.close.com/api/resources/activities/opportunity-status-changes",
)
