"""Form submissions: https://developer.close.com/api/resources/activities/form-submissions.md"""

from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import USERS, readonly
from crmapi.query.model import id_filters

SPEC = ActivitySpec(
    type="FormSubmission",
    path="form_submission",
    event_type="form_submission",
    verbs=frozenset({"list", "get", "delete"}),
    fields=(
        readonly("form_id"),
        readonly("form_configuration_id"),
        readonly("form_name"),
        # Never mutated (render copies the defaults shallowly); Close shows {} when empty.
        readonly("values", "object", {}),
        readonly("values_by_name", "object", {}),
        readonly("ip_address"),
        readonly("origin"),
        readonly("source_url"),
        readonly("source_url_normalized"),
        USERS,
    ),
    filters=id_filters("form_id", column="data.form_id"),
    docs="https://developer.close.com/api/resources/activities/form-submissions",
)
