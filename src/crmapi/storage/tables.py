"""The schema. Every table that holds an organization's data carries ``organization_id``.

Primary keys are ``(organization_id, id)`` and every secondary index starts with
``organization_id``, so each organization's rows can later be distributed by that column
(Citus-style) without reshaping a single query. Datetimes are canonical UTC strings
(``util.dates``): string order is time order on SQLite and PostgreSQL alike.
"""

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")
ID = String(64)
TS = String(32)


def _id() -> Column[str]:
    return Column("id", ID, nullable=False)


def _org() -> Column[str]:
    return Column("organization_id", ID, nullable=False)


def _audit() -> list[Column[object]]:
    return [
        Column("created_by", ID),
        Column("updated_by", ID),
        Column("date_created", TS, nullable=False),
        Column("date_updated", TS, nullable=False),
    ]


def _lead_fk(table: str) -> ForeignKeyConstraint:
    # Deleting a lead takes its children with it, at the database level too.
    return ForeignKeyConstraint(
        ["organization_id", "lead_id"], ["lead.organization_id", "lead.id"], ondelete="CASCADE"
    )


organization = Table(
    "organization",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("currency", String(8), nullable=False, default="USD"),
    *_audit(),
)

user = Table(
    "user",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("first_name", String(255)),
    Column("last_name", String(255)),
    Column("date_created", TS, nullable=False),
    Column("date_updated", TS, nullable=False),
)

membership = Table(
    "membership",
    metadata,
    _id(),
    _org(),
    Column("user_id", ID, nullable=False),
    Column("role_id", String(64), nullable=False, default="admin"),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("date_created", TS, nullable=False),
    Column("date_updated", TS, nullable=False),
    PrimaryKeyConstraint("organization_id", "id"),
    UniqueConstraint("organization_id", "user_id"),
)

api_key = Table(
    "api_key",
    metadata,
    _id(),
    _org(),
    Column("user_id", ID, nullable=False),
    # sha256 of the key: keys are random, so a plain digest cannot be brute-forced.
    Column("key_hash", String(64), nullable=False),
    Column("date_created", TS, nullable=False),
    PrimaryKeyConstraint("organization_id", "id"),
    # Unique within the organization (a sharded table's unique keys must include its
    # distribution column); keys are 256 random bits, so they are unique globally anyway.
    UniqueConstraint("organization_id", "key_hash"),
    # Authentication looks a key up before it knows the organization.
    Index(None, "key_hash"),
)

access_token = Table(
    "access_token",
    metadata,
    _id(),
    _org(),
    Column("user_id", ID, nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("date_created", TS, nullable=False),
    PrimaryKeyConstraint("organization_id", "id"),
    UniqueConstraint("organization_id", "token_hash"),
    Index(None, "token_hash"),
)

lead_status = Table(
    "lead_status",
    metadata,
    _id(),
    _org(),
    Column("label", String(255), nullable=False),
    Column("color", String(16)),
    Column("position", Integer, nullable=False, default=0),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

pipeline = Table(
    "pipeline",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

opportunity_status = Table(
    "opportunity_status",
    metadata,
    _id(),
    _org(),
    Column("pipeline_id", ID, nullable=False),
    Column("label", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

lead = Table(
    "lead",
    metadata,
    _id(),
    _org(),
    Column("name", Text),
    Column("description", Text),
    Column("url", Text),
    Column("status_id", ID, nullable=False),
    Column("addresses", Json, nullable=False),
    Column("custom", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "date_created", "id"),
    Index(None, "organization_id", "date_updated", "id"),
)

contact = Table(
    "contact",
    metadata,
    _id(),
    _org(),
    Column("lead_id", ID, nullable=False),
    Column("name", Text),
    Column("title", Text),
    Column("emails", Json, nullable=False),
    Column("phones", Json, nullable=False),
    Column("urls", Json, nullable=False),
    Column("custom", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    _lead_fk("contact"),
    Index(None, "organization_id", "lead_id", "date_created"),
    Index(None, "organization_id", "date_created", "id"),
)

# Lead search (``email:``, ``phone:``) on PostgreSQL: GIN over the very expressions
# ``search/compile.py`` matches by containment (emails case-insensitively). GIN cannot lead
# with organization_id without the btree_gin extension; the org test follows on the few hits.
# SQLite has no index over JSON list items: there the search reads the org's contacts.
for _name, _expr in (
    ("ix_contact_emails_search", "(lower(emails::text)::jsonb) jsonb_path_ops"),
    ("ix_contact_phones_search", "phones jsonb_path_ops"),
):
    Index(_name, text(_expr), _table=contact, postgresql_using="gin").ddl_if(dialect="postgresql")

opportunity = Table(
    "opportunity",
    metadata,
    _id(),
    _org(),
    Column("lead_id", ID, nullable=False),
    Column("status_id", ID, nullable=False),
    Column("user_id", ID),
    Column("contact_id", ID),
    # Cents; BIGINT so deals above $21M do not overflow PostgreSQL's INTEGER.
    Column("value", BigInteger),
    Column("value_period", String(16), nullable=False, default="one_time"),
    Column("confidence", Integer, nullable=False, default=0),
    Column("note", Text),
    Column("date_won", String(10)),
    Column("date_lost", TS),
    Column("custom", Json, nullable=False),
    Column("attachments", Json),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    _lead_fk("opportunity"),
    Index(None, "organization_id", "lead_id"),
    Index(None, "organization_id", "date_created", "id"),
    # Airbyte syncs opportunities incrementally by date_updated.
    Index(None, "organization_id", "date_updated", "id"),
)

task = Table(
    "task",
    metadata,
    _id(),
    _org(),
    Column("lead_id", ID, nullable=False),
    Column("type", String(32), nullable=False, default="lead"),
    Column("assigned_to", ID),
    Column("contact_id", ID),
    Column("text", Text),
    Column("date", TS),
    Column("due_date", TS),
    Column("is_complete", Boolean, nullable=False, default=False),
    Column("is_dateless", Boolean, nullable=False, default=False),
    Column("data", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    _lead_fk("task"),
    Index(None, "organization_id", "lead_id"),
    Index(None, "organization_id", "date_created", "id"),
    # The inbox: one user's open tasks by date.
    Index(None, "organization_id", "assigned_to", "is_complete", "date"),
)

custom_activity_type = Table(
    "custom_activity_type",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("api_create_only", Boolean, nullable=False, default=False),
    Column("editable_with_roles", Json, nullable=False),
    Column("is_archived", Boolean, nullable=False, default=False),
    Column("field_order", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

custom_field = Table(
    "custom_field",
    metadata,
    _id(),
    _org(),
    # lead, contact, opportunity or activity
    Column("object_type", String(32), nullable=False),
    Column("custom_activity_type_id", ID),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("type", String(32), nullable=False),
    Column("choices", Json),
    Column("accepts_multiple_values", Boolean, nullable=False, default=False),
    Column("required", Boolean, nullable=False, default=False),
    Column("editable_with_roles", Json, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "object_type", "position"),
)

# One store for every activity type: the columns every list filters and orders on, plus the
# type's own fields in ``data``. The feed is one indexed query whatever the mix of types.
activity = Table(
    "activity",
    metadata,
    _id(),
    _org(),
    Column("type", String(40), nullable=False),
    Column("lead_id", ID),
    Column("contact_id", ID),
    Column("user_id", ID),
    *_audit(),
    Column("activity_at", TS),
    # Emails point at their EmailThread; a type-specific reference other lists filter on.
    Column("thread_id", ID),
    Column("custom_activity_type_id", ID),
    # Which version of its type's field list ``data`` holds in full (0: unknown). A page can
    # splice such a document into the response as stored text (activities/store.py).
    Column("shape", Integer, nullable=False, server_default="0"),
    Column("data", Json, nullable=False),
    # When a scheduled (or ``send_in``) message is due to be sent; null otherwise. The clock's
    # due work reads it through a partial index (activities/due.py).
    Column("due_at", TS),
    PrimaryKeyConstraint("organization_id", "id"),
    _lead_fk("activity"),
    Index(None, "organization_id", "date_created", "id"),
    Index(None, "organization_id", "lead_id", "date_created", "id"),
    Index(None, "organization_id", "lead_id", "activity_at", "id"),
    Index(None, "organization_id", "type", "date_created", "id"),
    Index(None, "organization_id", "thread_id"),
    Index(
        "ix_activity_due",
        "due_at",
        sqlite_where=text("due_at IS NOT NULL"),
        postgresql_where=text("due_at IS NOT NULL"),
    ),
    # Lead search: has:calls, call(date ...), calls = 0, last_call probe a lead's rows by type.
    Index(None, "organization_id", "lead_id", "type", "date_created"),
)

event = Table(
    "event",
    metadata,
    _id(),
    _org(),
    Column("date_created", TS, nullable=False),
    Column("date_updated", TS, nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("object_id", ID),
    Column("action", String(32), nullable=False),
    Column("lead_id", ID),
    Column("user_id", ID),
    Column("request_id", ID),
    Column("api_key_id", ID),
    Column("oauth_client_id", ID),
    Column("changed_fields", Json, nullable=False),
    Column("previous_data", Json),
    Column("data", Json),
    Column("meta", Json, nullable=False),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "date_updated", "id"),
    Index(None, "organization_id", "object_id", "date_updated"),
    Index(None, "organization_id", "lead_id", "date_updated"),
    Index(None, "organization_id", "user_id", "date_updated"),
    Index(None, "organization_id", "object_type", "date_updated"),
    Index(None, "organization_id", "request_id"),
)

webhook = Table(
    "webhook",
    metadata,
    _id(),
    _org(),
    Column("url", Text, nullable=False),
    Column("events", Json, nullable=False),
    Column("status", String(16), nullable=False, default="active"),
    Column("verify_ssl", Boolean, nullable=False, default=True),
    Column("signature_key", String(64), nullable=False),
    Column("pause_reason", String(64)),
    Column("latest_error", Text),
    # Start of the current run of failed deliveries (null after any success): Close pauses a
    # subscription whose deliveries have all failed for three days.
    Column("failing_since", TS),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    _id(),
    _org(),
    Column("webhook_id", ID, nullable=False),
    Column("event_id", ID, nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", TS, nullable=False),
    # pending -> delivered | failed (gave up after 72 h); an auto-pause deletes pending rows.
    # A worker claims a pending row by moving next_attempt_at forward (a lease), so a worker
    # that dies mid-send leaves the row due again instead of lost.
    Column("status", String(16), nullable=False, default="pending"),
    Column("last_error", Text),
    Column("date_created", TS, nullable=False),
    # The host holding the current lease (null when none): its outcome is recorded only while
    # it still holds it, so a host whose lease was taken over cannot overwrite the new owner.
    Column("leased_by", ID),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "webhook_id", "status"),
    Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
)

# The emulator's per-organization state (emulator/clock.py, emulator/orgs.py): the test clock,
# the seed of deterministic ids, and how the organization was seeded (for reset). No row means
# a real clock and random ids, so organizations made by `crmapi org create` need none.
emulator_org = Table(
    "emulator_org",
    metadata,
    Column("organization_id", ID, primary_key=True),
    # real | offset | frozen
    Column("clock_mode", String(16), nullable=False, default="real"),
    Column("clock_offset_seconds", Float, nullable=False, default=0.0),
    Column("clock_frozen_at", TS),
    Column("id_seed", BigInteger),
    Column("seed_pack", String(32), nullable=False, default="empty"),
    Column("date_updated", TS, nullable=False),
)

# Sent messages a test cleared from the emulator's outbox list (the activities stay).
emulator_outbox_cleared = Table(
    "emulator_outbox_cleared",
    metadata,
    _org(),
    Column("activity_id", ID, nullable=False),
    PrimaryKeyConstraint("organization_id", "activity_id"),
)

# Periodic per-organization work (retention): one row per (organization, job), claimed by one
# host at a time with a lease (``events.jobs``), so N hosts run each job once per interval.
background_job = Table(
    "background_job",
    metadata,
    _org(),
    Column("name", String(32), nullable=False),
    Column("next_run_at", TS, nullable=False),
    Column("leased_by", ID),
    Column("lease_until", TS),
    PrimaryKeyConstraint("organization_id", "name"),
    Index("ix_background_job_due", "name", "next_run_at"),
)

# Shared rate-limit windows (``http.ratelimit_store``), PostgreSQL only in use. UNLOGGED there
# (the migration creates it so): losing the counts in a crash only resets a one-second window.
rate_limit_window = Table(
    "rate_limit_window",
    metadata,
    _org(),
    Column("bucket", String(200), nullable=False),
    Column("window_start", Float(53), nullable=False),
    Column("used", Integer, nullable=False),
    PrimaryKeyConstraint("organization_id", "bucket"),
)

# Global tables: identities shared by every organization (a person may belong to several).
# They carry no organization_id; on a sharded deployment they are reference tables
# (docs/deployment.md). ``organization`` is distributed by its own id.
REFERENCE_TABLES = frozenset({"user"})

# Operational state of an organization, not its data: rate-limit windows and job leases.
# Snapshots leave them out (a restored organization starts with fresh windows and leases).
RUNTIME_TABLES = frozenset({"rate_limit_window", "background_job", "listing_version"})

# Every try of a webhook delivery (emulator mode records them; see crmapi.emulator.deliveries).
webhook_attempt = Table(
    "webhook_attempt",
    metadata,
    _id(),
    _org(),
    Column("delivery_id", ID, nullable=False),
    Column("webhook_id", ID, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("date_created", TS, nullable=False),
    Column("url", Text, nullable=False),
    Column("request_headers", Json, nullable=False),
    Column("status", Integer),  # the receiver's HTTP status; null when none came back
    Column("duration_ms", Float, nullable=False),
    Column("error", Text),
    Column("response_snippet", Text),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "delivery_id", "attempt"),
)

# --- objects ---
# Call and meeting outcomes (/outcome/). A deleted one keeps its row (``date_deleted``): the
# activities that carry its id still name it, but it is gone from the API.
outcome = Table(
    "outcome",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("type", String(32), nullable=False),
    Column("date_deleted", TS),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
)

# --- followups ---
# An email's ``followup_date`` (Close: "create an email follow-up task if no reply arrives"):
# one row per outgoing email that asked for one, due at that date. It goes with its email
# (cascade) and is consumed when the clock reaches it (due/followups.py).
email_followup = Table(
    "email_followup",
    metadata,
    _id(),
    _org(),
    Column("due_at", TS, nullable=False),
    Column("date_created", TS, nullable=False),
    PrimaryKeyConstraint("organization_id", "id"),
    # Checked at commit: an email's write records its follow-up before the email's own row.
    ForeignKeyConstraint(
        ["organization_id", "id"],
        ["activity.organization_id", "activity.id"],
        ondelete="CASCADE",
        deferrable=True,
        initially="DEFERRED",
    ),
    Index(None, "due_at"),
)

# --- bulk ---
# Bulk actions (/bulk_action/<kind>/): a job over the leads a search selects, run by the
# clock's due work in batches (``due_at``: when its next batch runs; null once finished).
# ``selection`` holds the lead ids, fixed when the job loads them.
bulk_action = Table(
    "bulk_action",
    metadata,
    _id(),
    _org(),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("data", Json, nullable=False),
    Column("selection", Json),
    Column("n_leads", Integer),
    Column("n_leads_processed", Integer, nullable=False),
    Column("n_objects", Integer),
    Column("n_objects_processed", Integer, nullable=False),
    Column("due_at", TS),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "kind", "date_created", "id"),
    Index(None, "due_at"),
)

# --- templates ---
# Email templates (/email_template/) and SMS templates (/sms_template/): text with template
# tags (``{{ lead.display_name }}``) rendered per lead and contact (resources/template_render).
email_template = Table(
    "email_template",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("is_shared", Boolean, nullable=False, default=False),
    Column("is_archived", Boolean, nullable=False, default=False),
    Column("attachments", Json, nullable=False),
    Column("cc", Json, nullable=False),
    Column("bcc", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "date_created", "id"),
)

sms_template = Table(
    "sms_template",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("is_shared", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("owned_by", ID),
    Column("attachments", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "date_created", "id"),
)


# --- configuration objects ---
# What Airbyte lists and Close mostly configures outside the API (more.md §8). Each keeps the
# columns its list filters on; the rest of Close's object is the ``data`` document, rendered
# as stored. Groups keep their members there (``members: [{user_id}]``).


def _config(name: str, *columns: Column[Any]) -> Table:
    return Table(
        name,
        metadata,
        _id(),
        _org(),
        *columns,
        Column("data", Json, nullable=False),
        *_audit(),
        PrimaryKeyConstraint("organization_id", "id"),
        Index(None, "organization_id", "date_created", "id"),
    )


# Custom roles only: the built-in ones (admin, superuser, user, restricteduser) are constants.
role = _config("role", Column("name", String(255), nullable=False))
user_group = _config("user_group", Column("name", String(255), nullable=False))
connected_account = _config(
    "connected_account",
    Column("user_id", ID, nullable=False),
    Column("type", String(32), nullable=False),
)
send_as = _config(
    "send_as",
    Column("allowing_user_id", ID, nullable=False),
    Column("allowed_user_id", ID, nullable=False),
)
integration_link = _config(
    "integration_link",
    Column("name", String(255), nullable=False),
    Column("type", String(16), nullable=False),
    Column("url", Text, nullable=False),
)
phone_number = _config(
    "phone_number",
    Column("number", String(32), nullable=False),
    Column("user_id", ID),
    Column("is_group_number", Boolean, nullable=False),
    Column("participants", Json, nullable=False),
)
dialer = _config(
    "dialer",
    Column("user_id", ID, nullable=False),
    Column("status", String(32), nullable=False),
    Column("source_type", String(32), nullable=False),
    Column("source_value", String(255), nullable=False),
)

# --- smartviews ---
# Smart views (/saved_search/): a saved search, either the Advanced Filtering ``s_query``
# (stored normalised, as Close returns it) or the legacy text ``query``. ``user_id`` is the
# owner; ``shared_with`` holds membership ids (more.md §6.2).
saved_search = Table(
    "saved_search",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("type", String(32), nullable=False),
    Column("query", Text),
    Column("s_query", Json),
    Column("is_shared", Boolean, nullable=False, default=False),
    Column("shared_with", Json),
    Column("selected_fields", Json),
    Column("is_user_dependent", Boolean, nullable=False, default=False),
    Column("user_id", ID),
    # When and by whom ``is_shared``/``shared_with`` last changed (``sharing_settings``).
    Column("sharing_updated_by", ID),
    Column("date_sharing_updated", TS, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "type", "date_created", "id"),
)

# --- exports ---
# Exports (/export/lead/, /export/opportunity/): a job that renders the objects a search
# selects into one gzipped file, run by the clock's due work in batches (``due_at``: when its
# next batch runs; null once finished). ``selection`` holds the ids, fixed when it loads them.
export = Table(
    "export",
    metadata,
    _id(),
    _org(),
    Column("kind", String(16), nullable=False),  # lead | opportunity
    Column("status", String(16), nullable=False),
    Column("data", Json, nullable=False),
    Column("selection", Json),
    Column("n_docs", Integer),
    Column("n_docs_processed", Integer, nullable=False),
    Column("due_at", TS),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "kind", "date_created", "id"),
    Index(None, "due_at"),
)
# One batch's rendered documents, kept until the last batch assembles the file.
export_part = Table(
    "export_part",
    metadata,
    _org(),
    Column("export_id", ID, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("body", Text, nullable=False),  # text: JSONB would reorder the objects' keys
    PrimaryKeyConstraint("organization_id", "export_id", "seq"),
)
# The finished file: gzip bytes as base64 text (snapshots and both backends store text).
export_file = Table(
    "export_file",
    metadata,
    _org(),
    Column("export_id", ID, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", Text, nullable=False),
    PrimaryKeyConstraint("organization_id", "export_id"),
    # --- schemas ---
)


# Shared custom fields (``custom_field`` rows with object_type ``shared``) attached to the
# object types whose schemas show them. ``target`` is the association's name in Close's URL
# (``lead``, ``contact``, ``opportunity``, ``custom_activity_type/actitype_...``); ``position``
# is the field's place in that schema, on the same scale as regular fields' ``position``.
custom_field_association = Table(
    "custom_field_association",
    metadata,
    _org(),
    Column("custom_field_id", ID, nullable=False),
    Column("target", String(96), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("custom_activity_type_id", ID),
    Column("editable_with_roles", Json, nullable=False),
    Column("required", Boolean, nullable=False, default=False),
    Column("position", Integer, nullable=False, default=0),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "custom_field_id", "target"),
    Index(None, "organization_id", "target", "position"),
)
# A counter per organization and listing table, bumped by database triggers on every insert,
# update and delete of the table's rows (migration perf_1), whatever code path writes them.
# A remembered page end is reused for the next ``_skip`` only while the version it was read
# at is still current (query/seek.py). A new row starts at a random value, so clearing the
# table (runtime state: never in a snapshot) cannot bring an old version back.
listing_version = Table(
    "listing_version",
    metadata,
    _org(),
    Column("listing", String(40), nullable=False),
    Column("version", BigInteger, nullable=False),
    PrimaryKeyConstraint("organization_id", "listing"),
)

# --- sequences ---
# Sequences (/sequence/): an ordered list of steps (stored whole in ``steps``, each with its own
# ``seqstep_`` id) and the sending window. Subscriptions (/sequence_subscription/): one contact
# running through one sequence; ``step_index`` is the next step to run, ``due_at`` when (the
# clock's due work, due/sequences.py), null once nothing is left to run.
sequence = Table(
    "sequence",
    metadata,
    _id(),
    _org(),
    Column("name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("steps", Json, nullable=False),
    Column("data", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "date_created", "id"),
)
sequence_subscription = Table(
    "sequence_subscription",
    metadata,
    _id(),
    _org(),
    Column("sequence_id", ID, nullable=False),
    Column("lead_id", ID, nullable=False),
    Column("contact_id", ID, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(64)),
    Column("step_index", Integer, nullable=False),
    Column("due_at", TS),
    Column("data", Json, nullable=False),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    _lead_fk("sequence_subscription"),
    Index(None, "organization_id", "sequence_id", "date_created", "id"),
    Index(None, "organization_id", "contact_id"),
    Index(None, "organization_id", "lead_id"),
    Index(None, "due_at"),
)
# ``crmapi import --from``: where an import of one source into one organization stands
# (``state``: the watermark of the last finished run and each resource's resume offset).
mirror_checkpoint = Table(
    "mirror_checkpoint",
    metadata,
    _org(),
    Column("source", String(512), nullable=False),
    Column("state", Text, nullable=False),
    Column("date_updated", TS, nullable=False),
    PrimaryKeyConstraint("organization_id", "source"),
)
# Comment threads (more.md §2): one per commented object (an activity or an opportunity),
# kept while it holds a live comment. ``object_type`` is the event log's name of the object
# (``activity.note``, ``opportunity``); ``lead_id`` follows the object's lead (merges move it).
comment_thread = Table(
    "comment_thread",
    metadata,
    _id(),
    _org(),
    Column("object_id", ID, nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("lead_id", ID),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    UniqueConstraint("organization_id", "object_id"),
    Index(None, "organization_id", "lead_id"),
    Index(None, "organization_id", "date_created", "id"),
)
# A thread's comments; a removed one keeps its row (``removed_at``) until the thread goes.
comment = Table(
    "comment",
    metadata,
    _id(),
    _org(),
    Column("thread_id", ID, nullable=False),
    Column("lead_id", ID),
    Column("body", Text, nullable=False),
    Column("mentions", Json, nullable=False),
    Column("removed_at", TS),
    Column("removed_by", ID),
    *_audit(),
    PrimaryKeyConstraint("organization_id", "id"),
    Index(None, "organization_id", "thread_id", "date_created", "id"),
    Index(None, "organization_id", "lead_id"),
)
