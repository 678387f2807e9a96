"""What a resource declares. Adding a resource: one module with one ``ResourceSpec`` plus one
line in ``crmapi/registry.py``; routes, OpenAPI, rate-limit groups, webhook object types, a
lead's embedded lists, delete cascades, merges and the isolation matrix follow from it.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table

from crmapi.domain.declaration import Declaration
from crmapi.domain.fields import FieldSet
from crmapi.query.model import ListQuery, ListSpec, ParamSpec

# Renders a page of rows (one organization's) as the API returns them, in a fixed number of
# queries; ``tz`` is the caller's X-TZ-Offset (task views depend on the caller's today).
Render = Callable[[Connection, str, Sequence[Row[Any]], float], list[dict[str, Any]]]

# ``(conn, query, scope) -> {"total_results": ...}`` for the whole match, regardless of paging.
Totals = Callable[[Connection, ListQuery, ColumnElement[bool]], dict[str, Any]]

# A realistic sample for ``crmapi seed`` and the demo (``resources/sample.py``): table rows
# drawn from the sampler; a lead child's sample gets the lead row it belongs to, others None.
Sample = Callable[[Any, dict[str, Any] | None], list[dict[str, Any]]]

# Where each verb is served: ``""`` is the collection path, ``"{id}/"`` the item path.
VERB_ROUTES: dict[str, tuple[str, str]] = {
    "list": ("", "GET"),
    "show": ("", "GET"),  # a collection path that answers one object (``/me/``)
    "create": ("", "POST"),
    "get": ("{id}/", "GET"),
    "update": ("{id}/", "PUT"),
    "delete": ("{id}/", "DELETE"),
}


@dataclass(frozen=True)
class Operation:
    """One verb: the function that serves it and how it is documented.

    ``fields`` and ``list_spec`` default to the resource's own (lists get its ``ListSpec``,
    every verb but delete its ``FieldSet``); an action (non-CRUD) declares its own.
    """

    handler: Callable[..., Any] | None  # None: the generic one (``resources/handlers.py``)
    summary: str
    status: int = 200
    fields: FieldSet | None = None
    list_spec: ListSpec | None = None
    # Query parameters of an operation that is not a list (its handler reads them).
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    # A success that is a file, not a JSON object: its content types (an export's download).
    media_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """An operation that is not CRUD (a merge, a bulk update), served under the resource:
    ``suffix`` is appended to the resource's path (``"merge/"``; ``""`` for the collection)."""

    method: str
    suffix: str
    operation: Operation


@dataclass(frozen=True)
class Embed:
    """A list a lead carries: its rows of this resource, ``where`` they match, in ``order``."""

    key: str
    order: tuple[ColumnElement[Any], ...]
    where: tuple[ColumnElement[bool], ...] = ()


@dataclass(frozen=True)
class LeadChild:
    """A resource whose rows belong to a lead: deleted with it, moved by a merge (each with an
    event), and optionally embedded in the lead (``embed``)."""

    embed: Embed | None = None


@dataclass(frozen=True, kw_only=True)
class ResourceSpec(Declaration):
    """One Close resource: its storage, fields, list rules, rendering, verbs and relations."""

    name: str  # the registry key (Close's object name)
    model: str = ""  # Close's model name in a 404 ("Lead matching query does not exist.")
    table: Table | None = None
    id_prefix: str = ""
    fields: FieldSet | None = None
    list_spec: ListSpec | None = None
    render: Render | None = None
    columns: tuple[ColumnElement[Any], ...] = ()  # what ``render`` reads (default: every column)
    where: tuple[ColumnElement[bool], ...] = ()  # rows of ``table`` that are this resource's
    # Extra keys of a list's envelope over every match (``total_results``, value sums).
    totals: Totals | None = None
    operations: Mapping[str, Operation] = field(default_factory=dict)  # keys: VERB_ROUTES
    actions: tuple[Action, ...] = ()  # non-CRUD operations, routed before the item path
    aliases: tuple[str, ...] = ()  # other paths serving the same operations (legacy spellings)
    lead_child: LeadChild | None = None
    # The event object type of one rendered object when it depends on it (``task.<_type>``).
    event_type_of: Callable[[dict[str, Any]], str] | None = None
    # Served by routes its module declares itself (the event log, webhooks: http/routing.py).
    own_routes: bool = False
    sample: Sample | None = None
    # Ids every organization holds alike (Close's built-in roles): not one organization's
    # data, so another organization reading them is no leak (tenancy checks skip them).
    shared_ids: frozenset[str] = frozenset()
    # The column a delete stamps instead of removing the row (objects that activities keep
    # pointing at, like outcomes); ``where`` then hides the stamped rows.
    soft_delete: str | None = None

    def object_type(self, obj: dict[str, Any]) -> str:
        """The event log's object type for one rendered object of this resource."""
        return self.event_type_of(obj) if self.event_type_of else self.event_type

    @property
    def row_columns(self) -> tuple[Any, ...]:
        """What to select for ``render``."""
        return self.columns or ((self.table,) if self.table is not None else ())

    @property
    def verbs(self) -> frozenset[str]:
        return frozenset(self.operations)
