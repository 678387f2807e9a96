"""Phone numbers (``/phone_number/``, more.md §8.5): read-only here.

Close rents numbers through ``POST /phone_number/request/internal/`` (it costs money) or
ports them in its app; here ``crmapi phone add`` and the demo stand in for that. A personal
number belongs to ``user_id``; a group number has ``participants`` instead, and
``participant_user_id`` finds both kinds a member answers. ``number`` is matched in E.164
(``+1 650-333-5555`` finds ``+16503335555``); the accepted spelling is the filter's pattern.
"""

import re
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, Text, cast, or_

from crmapi.query.model import FilterSpec, ListSpec, OrderSpec, id_filters
from crmapi.resources import config_rows
from crmapi.resources.spec import Operation, ResourceSpec
from crmapi.storage import tables as t

PHONE = t.phone_number
# A number as people write it: an optional +, then digits with spaces, dots, dashes, brackets.
NUMBER = r"^\+?[0-9][0-9 ().-]{0,30}$"
_NUMBER = re.compile(NUMBER)


def e164(text: str) -> str:
    if not _NUMBER.search(text):
        raise ValueError("Enter a phone number such as +16503335555.")
    return "+" + re.sub(r"[^0-9]", "", text)


def _participant(table: Table, values: list[Any]) -> ColumnElement[bool]:
    # A personal number's owner, or a participant of a group number (a JSON list of ids: the
    # quoted id cannot match part of another; "_" is escaped, not a LIKE wildcard).
    user_id = values[0]
    return or_(
        table.c.user_id == user_id,
        cast(table.c.participants, Text).contains(f'"{user_id}"', autoescape=True),
    )


LIST = ListSpec(
    filters={
        "number": FilterSpec("number", "eq", "str", check=e164, pattern=NUMBER),
        **id_filters("user_id"),
        "participant_user_id": FilterSpec("participants", "eq", "id", sql=_participant),
        "is_group_number": FilterSpec("is_group_number", "eq", "bool"),
    },
    orderings={"date_created": OrderSpec("date_created")},
    default_order="date_created",
    deprecated={"user_id": "Use participant_user_id (Close deprecated user_id)."},
)
_render = config_rows.document(("number", "user_id", "is_group_number", "participants"))


def formatted(number: str) -> str:
    """``+16503335555`` -> ``+1 650-333-5555`` (North American numbers; others as given)."""
    digits = number.lstrip("+")
    if len(digits) == 11 and digits.startswith("1"):
        return f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}"
    return number


def add(
    conn: Connection,
    org_id: str,
    number: str,
    user_id: str | None,
    label: str = "",
    participants: list[str] | None = None,
) -> str:
    """A personal number of ``user_id``, or a group number (``user_id`` None)."""
    number = e164(number)
    group = user_id is None
    data: dict[str, Any] = {
        "number_formatted": formatted(number),
        "label": label,
        "type": "internal",
        "phone_numbers": [],
        "phone_numbers_formatted": [],
        "forward_to": None,
        "forward_to_formatted": None,
        "forward_to_enabled": False,
        "voicemail_greeting_url": None,
        "press_1_to_accept": False,
        "inbound_ring_duration": 30,
        "country": "US" if number.startswith("+1") else None,
        "carrier": "twilio",
        "carrier_type": "local",
        "sms_enabled": True,
        "mms_enabled": True,
        "supports_sms_to_countries": ["US", "CA"],
        "supports_mms_to_countries": ["US", "CA"],
        "is_verified": True,
        "is_premium": False,
        "was_ported": False,
        "address_id": None,
        "bundle_id": None,
        "last_billed_price": 1.0,
        "next_billing_on": None,
    }
    columns = {
        "number": number,
        "user_id": user_id,
        "is_group_number": group,
        "participants": list(participants or []) if group else [],
    }
    return config_rows.add(conn, PHONE, "phon", org_id, user_id, columns, data)


SPEC = ResourceSpec(
    name="phone_number",
    path="/phone_number/",
    model="PhoneNumber",
    table=PHONE,
    id_prefix="phon",
    list_spec=LIST,
    render=_render,
    operations={
        "list": Operation(None, "List phone numbers"),
        "get": Operation(None, "Get a phone number"),
    },
    docs="https://developer.close.com/api/resources/phone-numbers",
)
