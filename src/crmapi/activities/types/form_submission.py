"""Form submissions: https://developer.close.com/api/resources/activities/form-submissions.md"""

from datetime import datetime
from typing import Any

from crmapi.activities.sample import Sampler
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types._shared import COMMENT_SUMMARY, USERS, readonly
from crmapi.query.model import id_filters


def sample(gen: Sampler, lead_id: str, when: datetime) -> list[Any]:
    """A realistic one for ``crmapi seed`` and the demo (see activities/sample.py)."""
    return [
        gen.base(
            "FormSubmission",
            lead_id,
            when,
            {
                "form_id": "form_" + "0" * 22,
                "form_name": "Contact us",
                "values": {},
                "values_by_name": {},
                "ip_address": "192.0.2.1",
                "origin": "https://demo.example",
                "source_url": "https://demo.example/contact",
                "source_url_normalized": "demo.example/contact",
            },
            anonymous=True,
        )
    ]


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
        COMMENT_SUMMARY,
    ),
    filters=id_filters("form_id", column="data.form_id"),
    docs="https://developer.close.com/api/resources/activities/form-submissions",
    sample=sample,
    sample_weight=2,  # percent of a seeded feed
)
