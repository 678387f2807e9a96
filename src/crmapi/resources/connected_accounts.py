"""Connected accounts (``/connected_account/``, more.md §8.2): read-only, as in Close.

A member connects a mailbox, a calendar or Zoom in Close's app (OAuth with Google, SMTP/IMAP
credentials); here ``crmapi account add`` and the demo stand in for that. ``_type`` is the
filter Airbyte's three connected-account streams send (absent from Close's OpenAPI: an exact
match, more.md §11 #16). SMTP/IMAP passwords are never stored, let alone returned.
"""

from typing import Any

from sqlalchemy import Connection

from crmapi.query.model import FilterSpec, ListSpec, OrderSpec, id_filters
from crmapi.resources import config_rows
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

ACCOUNT = t.connected_account
TYPES = ("google", "custom_email", "zoom", "microsoft", "calendly")
LIST = ListSpec(
    filters={**id_filters("user_id"), "_type": FilterSpec("type", "eq", "str")},
    orderings={"date_created": OrderSpec("date_created")},
    default_order="date_created",
)
_render = config_rows.document(("type", "user_id"), {"type": "_type"})


def _receiving() -> dict[str, Any]:
    return {
        "calendar_receive_status": "ok",
        "email_receive_status": "ok",
        "receive_status": "ok",
        "send_status": "ok",
        "latest_receive_error": None,
        "latest_send_error": None,
    }


def add(conn: Connection, org_id: str, user_id: str, type_: str, email: str, name: str = "") -> str:
    """A connected account of one member (``crmapi account add``)."""
    identities = [{"email": email, "name": name}] if type_ != "zoom" else []
    data: dict[str, Any] = {
        "email": email,
        "identities": identities,
        "default_identity": identities[0] if identities else None,
        "synced_calendars": [email] if type_ == "google" else [],
        "available_features": ["email", "calendar"] if type_ == "google" else [],
        "enabled_features": ["email", "calendar"] if type_ == "google" else [],
        "sync_all_calendars": False,
        "has_meeting_creation_scopes": type_ == "zoom",
        "is_imap_archive_sync_enabled": False,
        **_receiving(),
    }
    if type_ == "custom_email":
        host = email.split("@")[-1]
        data["smtp"] = {"host": f"smtp.{host}", "port": 587, "use_ssl": True, "username": email}
        data["imap"] = {"host": f"imap.{host}", "port": 993, "use_ssl": True, "username": email}
    columns = {"user_id": user_id, "type": type_}
    return config_rows.add(conn, ACCOUNT, "emailacct", org_id, user_id, columns, data)


SPEC = ResourceSpec(
    name="connected_account",
    path="/connected_account/",
    model="ConnectedAccount",
    table=ACCOUNT,
    id_prefix="emailacct",
    list_spec=LIST,
    render=_render,
    operations={
        "list": Operation(None, "List connected accounts (filter by user_id or _type)"),
        "get": Operation(None, "Get a connected account"),
    },
    docs="https://developer.close.com/api/resources/connected-accounts",
)
