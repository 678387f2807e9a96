"""Every activity type crmapi serves. Adding a type: one module in ``types/`` plus one line here."""

from crmapi.activities import catalog
from crmapi.activities.spec import ActivitySpec
from crmapi.activities.types import (
    call,
    created,
    custom,
    email,
    emailthread,
    form_submission,
    lead_merge,
    meeting,
    note,
    sms,
    status_change,
    task_completed,
    whatsapp,
)

ACTIVITY_TYPES: tuple[ActivitySpec, ...] = (
    note.SPEC,
    call.SPEC,
    email.SPEC,
    emailthread.SPEC,
    sms.SPEC,
    whatsapp.SPEC,
    meeting.SPEC,
    custom.SPEC,
    created.SPEC,
    status_change.LEAD_SPEC,
    status_change.OPPORTUNITY_SPEC,
    form_submission.SPEC,
    lead_merge.SPEC,
    task_completed.SPEC,
)

# The store and the write path find types here (they cannot import the types: the types'
# hooks call them).
BY_TYPE: dict[str, ActivitySpec] = catalog.install(ACTIVITY_TYPES)
BY_PATH: dict[str, ActivitySpec] = {spec.path: spec for spec in ACTIVITY_TYPES}
