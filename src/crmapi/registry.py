"""Every resource and activity type crmapi serves: the one list the rest is derived from.

Routes (``http/routing.py``), the OpenAPI document, rate-limit groups (from each path), the
lists a lead embeds, what a lead delete cascades to and a merge moves (``LEAD_CHILDREN``), the
event object types webhooks accept, and the tenant isolation matrix all read these tuples.

Adding a resource: one module declaring a ``ResourceSpec``, plus one line in ``RESOURCES``.
Adding an activity type: one module in ``activities/types/`` plus one line in
``activities/registry.py`` (``ACTIVITY_TYPES``, re-exported here).
"""

from crmapi.activities import handlers as activities
from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.activities.spec import ActivitySpec
from crmapi.resources import (
    bulk_actions,
    catalog,
    comment_threads,
    comments,
    connected_accounts,
    contacts,
    custom_activity_types,
    custom_field_schemas,
    custom_fields,
    data_search,
    dialers,
    email_templates,
    exports,
    groups,
    integration_links,
    leads,
    memberships,
    opportunities,
    outcomes,
    phone_numbers,
    pipelines,
    roles,
    saved_searches,
    send_as,
    sequence_subscriptions,
    sequences,
    shared_fields,
    sms_templates,
    statuses,
    tasks,
    users,
)
from crmapi.resources.spec import ResourceSpec
from crmapi.storage import tables as t

# The event log and webhook subscriptions: their handlers live with the event system
# (events/api.py, events/webhooks.py), which declares its own routes; http/routing.py serves
# them under these paths (``own_routes``).
EVENT = ResourceSpec(
    name="event",
    path="/event/",
    model="Event",
    table=t.event,
    id_prefix="ev",
    own_routes=True,
    docs="https://developer.close.com/api/resources/event-log",
)
WEBHOOK = ResourceSpec(
    name="webhook",
    path="/webhook/",
    model="WebhookSubscription",
    table=t.webhook,
    id_prefix="whsub",
    own_routes=True,
    docs="https://developer.close.com/api/resources/webhook-subscriptions",
)

# Order matters twice: a lead's children are moved by a merge (and their events emitted) in
# this order, and deleted with their lead in the reverse one.
RESOURCES: tuple[ResourceSpec, ...] = (
    users.ME,
    users.USER,
    users.ORGANIZATION,
    memberships.SPEC,
    roles.SPEC,
    groups.SPEC,
    connected_accounts.SPEC,
    send_as.SPEC,
    phone_numbers.SPEC,
    dialers.SPEC,
    statuses.LEAD_STATUS,
    pipelines.PIPELINE,
    pipelines.OPPORTUNITY_STATUS,
    leads.SPEC,
    contacts.SPEC,
    opportunities.SPEC,
    tasks.SPEC,
    activities.SPEC,
    # After what they comment on: a merge moves them after their objects, a lead delete
    # removes them first.
    comment_threads.SPEC,
    comments.SPEC,
    *custom_fields.SPECS.values(),
    shared_fields.SPEC,
    *custom_field_schemas.SPECS,
    custom_activity_types.SPEC,
    outcomes.SPEC,
    email_templates.SPEC,
    sms_templates.SPEC,
    integration_links.SPEC,
    saved_searches.SPEC,
    sequences.SPEC,
    sequence_subscriptions.SPEC,
    data_search.SPEC,
    *bulk_actions.SPECS.values(),
    # Before ``/export/``: its item path would read /export/lead/ as an export id.
    *exports.SPECS.values(),
    exports.ANY,
    EVENT,
    WEBHOOK,
)

BY_NAME: dict[str, ResourceSpec] = {spec.name: spec for spec in RESOURCES}
# Installed where leads.py and merge.py read them (they cannot import this module back).
LEAD_CHILDREN: tuple[ResourceSpec, ...] = catalog.install(RESOURCES)
TYPES: tuple[ActivitySpec, ...] = ACTIVITY_TYPES


def event_object_types() -> frozenset[str]:
    """Every event object type crmapi emits (webhook subscriptions name these)."""
    plain = {spec.event_type for spec in RESOURCES if spec.event_type and not spec.event_type_of}
    activity = {f"activity.{spec.event_type}" for spec in ACTIVITY_TYPES}
    return frozenset(plain | activity)


def event_families() -> frozenset[str]:
    """Object types emitted as ``<family>.<kind>`` (``task.lead``: tasks by ``_type``)."""
    return frozenset(s.event_type for s in RESOURCES if s.event_type and s.event_type_of)
