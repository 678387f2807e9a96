"""Dialer sessions (``/dialer/``, more.md §8.6): read-only, as in Close.

A member starts a power or predictive dialer over a smart view in Close's app; here
``crmapi dialer add`` and the demo stand in for that. ``organization_id``, which Close's
list also takes, is the caller's anyway (undeclared parameters are ignored).
"""

from typing import Any

from sqlalchemy import Connection

from crmapi.query.model import FilterSpec, ListSpec, OrderSpec, id_filters
from crmapi.resources import config_rows
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

DIALER = t.dialer
SOURCE_TYPES = ("saved-search", "shared-entry")
TYPES = ("power", "predictive")
LIST = ListSpec(
    filters={
        "source_type": FilterSpec("source_type", "eq", "str", choices=SOURCE_TYPES),
        "source_value": FilterSpec("source_value", "eq", "str"),
        "status": FilterSpec("status", "eq", "str"),
        "status__in": FilterSpec("status", "in", "str"),
        **id_filters("user_id"),
    },
    orderings={"date_created": OrderSpec("date_created")},
    default_order="-date_created",
)
_render = config_rows.document(("status", "source_type", "source_value", "user_id"))


def add(
    conn: Connection,
    org_id: str,
    user_id: str,
    source_value: str,
    type_: str = "power",
    source_type: str = "saved-search",
    caller_id: str = "",
) -> str:
    """A finished (``inactive``) dialer session of ``user_id`` over a smart view."""
    data: dict[str, Any] = {
        "type": type_,
        "users": [{"user_id": user_id, "is_active": False, "state": "inactive"}],
        "caller_id": caller_id,
        "ring_mode": "more-voicemails",
        "music_preference": "tone1",
        "is_user_dependent": False,
    }
    columns = {
        "user_id": user_id,
        "status": "inactive",
        "source_type": source_type,
        "source_value": source_value,
    }
    return config_rows.add(conn, DIALER, "dial", org_id, user_id, columns, data)


SPEC = ResourceSpec(
    name="dialer",
    path="/dialer/",
    model="Dialer",
    table=DIALER,
    id_prefix="dial",
    list_spec=LIST,
    render=_render,
    operations={
        "list": Operation(None, "List dialer sessions"),
        "get": Operation(None, "Get a dialer session"),
    },
    docs="https://developer.close.com/api/resources/dialers",
)
