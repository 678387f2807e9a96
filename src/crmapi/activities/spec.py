"""What an activity type declares. Adding a type is one module with one ``ActivitySpec``."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from crmapi.activities.context import WriteContext
from crmapi.activities.sample import Sample
from crmapi.domain.declaration import Declaration
from crmapi.domain.fields import Field, FieldSet, merge
from crmapi.query.model import FilterSpec

VERBS = ("list", "get", "create", "update", "delete")

# Base fields a client may set when it creates an activity (import helpers included).
BASE_CREATE = ("lead_id", "contact_id", "user_id", "created_by", "date_created", "activity_at")
BASE_UPDATE = ("contact_id", "activity_at")

# Hook signatures. ``obj`` is the object about to be stored (the validated body merged over
# the stored object); ``sent`` is just what the client sent; ``existing`` is None on create.
ExtraActions = Callable[[dict[str, Any], dict[str, Any] | None, dict[str, Any]], tuple[str, ...]]
Prepare = Callable[[WriteContext, dict[str, Any], dict[str, Any], dict[str, Any] | None], None]
Expand = Callable[[Connection, str, list[dict[str, Any]]], None]
OnDelete = Callable[[WriteContext, dict[str, Any]], None]
# Runs after the write is stored and its event emitted: ``(wc, before, after)``, either may be
# None (create/delete). Keeps dependent objects in step (an email's thread follows its emails).
AfterWrite = Callable[[WriteContext, dict[str, Any] | None, dict[str, Any] | None], None]
# Enriches the one object ``GET /activity/<type>/{id}/`` returns (fields lists leave out).
Detail = Callable[[Connection, str, dict[str, Any]], None]


@dataclass(frozen=True)
class ActivitySpec(Declaration):
    """One Close activity type: its wire name, path, fields, verbs and write rules.

    ``path`` is under /activity/ ("note", "status_change/lead"); ``event_type`` is the suffix
    of its event object type (activity.<event_type>).
    """

    type: str  # the ``_type`` value, e.g. "Note"
    fields: tuple[Field, ...] = ()  # the type's own fields (base fields are added for it)
    verbs: frozenset[str] = frozenset({"list", "get"})
    base_create: tuple[str, ...] = BASE_CREATE
    base_update: tuple[str, ...] = BASE_UPDATE
    lead_required: bool = True
    filters: Mapping[str, FilterSpec] = field(default_factory=dict)  # extra list filters
    prepare: Prepare | None = None  # type rules on create/update (raise InvalidRequest)
    expand: Expand | None = None  # batch-enrich a page of rendered objects (no N+1)
    expanded_fields: frozenset[str] = frozenset()  # the fields ``expand`` fills
    on_delete: OnDelete | None = None  # cascade (e.g. a thread deletes its emails)
    after_write: AfterWrite | None = None  # follow-up writes to related activities
    # Close's type-specific event actions (e.g. an email's "sent"), emitted after the write's
    # own created/updated event: given what was sent, the stored object before and after.
    extra_actions: ExtraActions | None = None
    detail: Detail | None = None  # extra fields on GET-one only (e.g. a thread's emails)
    preview_fields: tuple[str, ...] | None = None  # "stripped-down" shape in thread feeds
    in_default_feed: bool = True
    # How ``crmapi seed`` and the demo make a realistic one, and its share (percent) of a
    # seeded feed (activities/sample.py); types without one are written only by the system.
    sample: Sample | None = None
    sample_weight: int = 0

    @property
    def defaults(self) -> dict[str, Any]:
        return _defaults(self)

    @property
    def on_request(self) -> frozenset[str]:
        return frozenset(f.name for f in self.fields if f.on_request)

    def fieldset(self, base: tuple[Field, ...]) -> FieldSet:
        return _fieldset(self, base)


_DEFAULTS: dict[str, dict[str, Any]] = {}
_FIELDSETS: dict[str, FieldSet] = {}


def _defaults(spec: ActivitySpec) -> dict[str, Any]:
    found = _DEFAULTS.get(spec.type)
    if found is None:
        found = {f.name: f.default for f in spec.fields if not f.on_request}
        _DEFAULTS[spec.type] = found
    return found


def _fieldset(spec: ActivitySpec, base: tuple[Field, ...]) -> FieldSet:
    found = _FIELDSETS.get(spec.type)
    if found is None:
        writable_base = tuple(
            _with_access(f, f.name in spec.base_create, f.name in spec.base_update) for f in base
        )
        found = FieldSet(merge(writable_base, spec.fields))
        _FIELDSETS[spec.type] = found
    return found


def _with_access(f: Field, create: bool, update: bool) -> Field:
    return replace(f, create=create, update=update)
