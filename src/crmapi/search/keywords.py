"""The keyword catalogue of the text language (more.md §1.3), as declarations.

A keyword names a field of the tree (``fields.py`` knows its SQL) and a *kind*: how its value
is read and which condition it becomes. A ``via`` keyword lives on a related object (``email``
on a lead is "a contact of the lead has this email"). Scopes are the object types a clause can
be about: a lead at the top, a contact inside ``contact(...)``, and so on.
"""

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import phonenumbers

from crmapi.search import moments
from crmapi.search.env import Env
from crmapi.search.errors import SearchSyntaxError
from crmapi.search.tree import (
    Condition,
    Exists,
    FieldCondition,
    FieldRef,
    HasRelated,
    MatchAll,
    Node,
    NumberRange,
    Term,
    Text,
    TextMode,
)

Kind = Literal[
    "text", "exact", "id", "moment", "number", "status", "user", "email", "phone", "choice", "has"
]


@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool
    start: int  # position in the query, for errors

    @property
    def star(self) -> bool:
        return self.text == "*" and not self.quoted


@dataclass(frozen=True)
class Keyword:
    field: str
    kind: Kind
    via: str | None = None  # the related object type the field belongs to
    arg: str = ""  # kind-specific: the status family, the choices...


@dataclass(frozen=True)
class Scope:
    object_type: str
    keywords: Mapping[str, Keyword]
    # name(...) groups: the related object type and the scope its clauses are read in
    related: Mapping[str, str] = field(default_factory=dict)
    custom_type: str | None = None  # whose custom fields ``custom.<name>`` names


# --- builders: (keyword, scope, operator, value, env) -> node -------------------------------

Builder = Callable[[Keyword, str, str, Value, Env], Node]
COMPARISONS = ("<", "<=", ">", ">=", "=")


def _only_colon(op: str, value: Value, what: str) -> None:
    if op != ":":
        raise SearchSyntaxError(value.start, f"{what} takes ':' not {op!r}")


def _cond(ref: FieldRef, condition: Condition) -> Node:
    return FieldCondition(ref, condition)


def _text(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    ref = FieldRef(obj, kw.field)
    if value.star:
        return _cond(ref, Exists())
    mode: TextMode = "exact_value" if kw.kind == "exact" else "phrase"
    return _cond(ref, Text(value.text, mode))


def _id(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    return _cond(FieldRef(obj, kw.field), Term(tuple(v for v in value.text.split(",") if v)))


def _moment(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    ref = FieldRef(obj, kw.field)
    if value.star:
        return _cond(ref, Exists())
    try:
        span = moments.span(value.text, env.tz)
    except ValueError as exc:
        raise SearchSyntaxError(value.start, str(exc)) from None
    return _cond(ref, moments.comparison(op, span))


def number_range(op: str, number: float) -> NumberRange:
    ranges = {
        "<": NumberRange(lt=number),
        "<=": NumberRange(lte=number),
        ">": NumberRange(gt=number),
        ">=": NumberRange(gte=number),
    }
    return ranges.get(op, NumberRange(gte=number, lte=number))


def _number(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    ref = FieldRef(obj, kw.field)
    if value.star:
        return _cond(ref, Exists())
    try:
        number = float(value.text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise SearchSyntaxError(value.start, f"{kw.field} needs a number")
    return _cond(ref, number_range(op, number))


def _status(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    # An unknown label matches no lead (as a status filter in Close's UI would).
    return _cond(FieldRef(obj, kw.field), Term(env.status_ids(kw.arg, value.text)))


def _choice(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    choices = kw.arg.split(",")
    wanted = value.text.lower()
    if wanted not in choices:
        raise SearchSyntaxError(value.start, f"{kw.field} is one of {', '.join(choices)}")
    return _cond(FieldRef(obj, kw.field), Term((wanted,)))


def _user(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    return _cond(FieldRef(obj, kw.field), Term(env.user_ids(value.text)))


def _email(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, kw.field)
    ref = FieldRef(obj, kw.field)
    if value.star:
        return _cond(ref, Exists())
    return _cond(ref, Text(value.text.strip().lower(), "exact_value"))


_DIGITS = re.compile(r"\D+")


def _phone(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    """A whole number is matched exactly (E.164, indexed); a fragment by its digits."""
    _only_colon(op, value, kw.field)
    ref = FieldRef(obj, kw.field)
    if value.star:
        return _cond(ref, Exists())
    if value.text.strip().startswith("+"):
        try:
            number = phonenumbers.parse(value.text, None)
            if phonenumbers.is_possible_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                return _cond(ref, Text(e164, "exact_value"))
        except phonenumbers.NumberParseException:
            pass
    digits = _DIGITS.sub("", value.text)
    if not digits:
        raise SearchSyntaxError(value.start, "phone needs digits")
    return _cond(ref, Text(digits, "phrase"))


def _has(kw: Keyword, obj: str, op: str, value: Value, env: Env) -> Node:
    _only_colon(op, value, "has")
    related = HAS.get(value.text.lower())
    if related is None:
        raise SearchSyntaxError(value.start, f"has: takes one of {', '.join(sorted(HAS))}")
    if related.startswith("num_"):
        return _cond(FieldRef(obj, related), NumberRange(gt=0))
    return HasRelated(obj, related, MatchAll())


BUILDERS: dict[str, Builder] = {
    "text": _text,
    "exact": _text,
    "id": _id,
    "moment": _moment,
    "number": _number,
    "status": _status,
    "user": _user,
    "email": _email,
    "phone": _phone,
    "choice": _choice,
    "has": _has,
}


def build(kw: Keyword, scope: Scope, op: str, value: Value, env: Env) -> Node:
    """The node for one ``keyword <op> value`` clause in ``scope``."""
    if op in COMPARISONS and kw.kind not in ("moment", "number"):
        raise SearchSyntaxError(value.start, f"{kw.field} cannot be compared with {op!r}")
    if kw.via is None:
        return BUILDERS[kw.kind](kw, scope.object_type, op, value, env)
    inner = BUILDERS[kw.kind](kw, kw.via, op, value, env)
    return HasRelated(scope.object_type, kw.via, inner)


def custom(scope: Scope, name: str, op: str, value: Value, env: Env, at: int) -> Node | None:
    """``custom.<name>`` (or a bare custom field name): ``None`` when no such field exists."""
    if scope.custom_type is None:
        return None
    found = env.custom_field(scope.custom_type, name)
    if found is None:
        return None
    ref = f"custom.{found.id}"
    if found.type == "number":
        return _number(Keyword(ref, "number"), scope.object_type, op, value, env)
    if found.type in ("date", "datetime"):
        return _moment(Keyword(ref, "moment"), scope.object_type, op, value, env)
    if op != ":":
        raise SearchSyntaxError(at, f"custom field {found.name!r} cannot be compared with {op!r}")
    return _text(Keyword(ref, "exact"), scope.object_type, op, value, env)


# --- the catalogue --------------------------------------------------------------------------

# has:<name> -> the related object type (or a count field when there is no object)
HAS = {
    "contacts": "contact",
    "opportunities": "opportunity",
    "tasks": "task",
    "calls": "activity.call",
    "emails": "activity.email",
    "notes": "activity.note",
    "sms": "activity.sms",
    "meetings": "activity.meeting",
    "activities": "activity",
    "addresses": "num_addresses",
}

_DATES = {
    "created": Keyword("date_created", "moment"),
    "date_created": Keyword("date_created", "moment"),
    "updated": Keyword("date_updated", "moment"),
    "date_updated": Keyword("date_updated", "moment"),
}


def _counts(**names: str) -> dict[str, Keyword]:
    """``contacts > 1`` and ``num_contacts > 1`` alike."""
    out = {}
    for name, count_field in names.items():
        out[name] = Keyword(count_field, "number")
        out[count_field] = Keyword(count_field, "number")
    return out


LEAD_KEYWORDS: dict[str, Keyword] = {
    **_DATES,
    "id": Keyword("id", "id"),
    "lead_id": Keyword("id", "id"),
    "name": Keyword("name", "text"),
    "company": Keyword("name", "text"),
    "lead_name": Keyword("name", "text"),
    "display_name": Keyword("name", "text"),
    "description": Keyword("description", "text"),
    "url": Keyword("url", "text"),
    "city": Keyword("addresses", "text"),
    "location": Keyword("addresses", "text"),
    "address": Keyword("addresses", "text"),
    "status": Keyword("status_id", "status", arg="lead"),
    "lead_status": Keyword("status_id", "status", arg="lead"),
    "status_id": Keyword("status_id", "id"),
    "created_by": Keyword("created_by", "user"),
    "updated_by": Keyword("updated_by", "user"),
    "has": Keyword("has", "has"),
    "email": Keyword("email", "email", via="contact"),
    "email_address": Keyword("email", "email", via="contact"),
    "phone": Keyword("phone", "phone", via="contact"),
    "phone_number": Keyword("phone", "phone", via="contact"),
    "contact_name": Keyword("name", "text", via="contact"),
    "title": Keyword("title", "text", via="contact"),
    "opportunity": Keyword("status_type", "choice", via="opportunity", arg="active,won,lost"),
    "opportunity_status": Keyword("status_id", "status", via="opportunity", arg="opportunity"),
    "opportunity_status_type": Keyword(
        "status_type", "choice", via="opportunity", arg="active,won,lost"
    ),
    "opportunity_user": Keyword("user_id", "user", via="opportunity"),
    "opportunity_created": Keyword("date_created", "moment", via="opportunity"),
    "opportunity_value": Keyword("value", "number", via="opportunity"),
    "opportunity_confidence": Keyword("confidence", "number", via="opportunity"),
    "last_call": Keyword("last_call_date", "moment"),
    "last_called": Keyword("last_call_date", "moment"),
    "last_email": Keyword("last_email_date", "moment"),
    "last_emailed": Keyword("last_email_date", "moment"),
    "last_activity": Keyword("last_activity_date", "moment"),
    **_counts(
        contacts="num_contacts",
        opportunities="num_opportunities",
        addresses="num_addresses",
        calls="num_calls",
        called="num_calls",
        emails="num_emails",
        notes="num_notes",
        sms="num_sms",
        meetings="num_meetings",
        activities="num_activities",
        tasks="num_tasks",
    ),
}

CONTACT_KEYWORDS: dict[str, Keyword] = {
    **_DATES,
    "id": Keyword("id", "id"),
    "name": Keyword("name", "text"),
    "title": Keyword("title", "text"),
    "email": Keyword("email", "email"),
    "email_address": Keyword("email", "email"),
    "phone": Keyword("phone", "phone"),
    "phone_number": Keyword("phone", "phone"),
    "url": Keyword("urls", "text"),
    "created_by": Keyword("created_by", "user"),
}

OPPORTUNITY_KEYWORDS: dict[str, Keyword] = {
    **_DATES,
    "id": Keyword("id", "id"),
    "status": Keyword("status_id", "status", arg="opportunity"),
    "status_type": Keyword("status_type", "choice", arg="active,won,lost"),
    "type": Keyword("status_type", "choice", arg="active,won,lost"),
    "user": Keyword("user_id", "user"),
    "user_id": Keyword("user_id", "user"),
    "value": Keyword("value", "number"),
    "confidence": Keyword("confidence", "number"),
    "value_period": Keyword("value_period", "choice", arg="one_time,monthly,annual"),
    "note": Keyword("note", "text"),
    "won": Keyword("date_won", "moment"),
    "date_won": Keyword("date_won", "moment"),
    "created_by": Keyword("created_by", "user"),
}

ACTIVITY_KEYWORDS: dict[str, Keyword] = {
    **_DATES,
    "date": Keyword("date_created", "moment"),
    "id": Keyword("id", "id"),
    "user": Keyword("user_id", "user"),
    "user_id": Keyword("user_id", "user"),
}

TASK_KEYWORDS: dict[str, Keyword] = {
    **_DATES,
    "id": Keyword("id", "id"),
    "date": Keyword("date", "moment"),
    "due_date": Keyword("due_date", "moment"),
    "assigned_to": Keyword("assigned_to", "user"),
    "text": Keyword("text", "text"),
    "is_complete": Keyword("is_complete", "choice", arg="true,false"),
}

# Activity groups: call(...), email(...)... and the activity type each selects.
ACTIVITY_GROUPS = {
    "call": "activity.call",
    "email": "activity.email",
    "note": "activity.note",
    "sms": "activity.sms",
    "meeting": "activity.meeting",
    "activity": "activity",
}

SCOPES: dict[str, Scope] = {
    "lead": Scope(
        "lead",
        LEAD_KEYWORDS,
        {"contact": "contact", "opportunity": "opportunity", "task": "task", **ACTIVITY_GROUPS},
        "lead",
    ),
    "contact": Scope("contact", CONTACT_KEYWORDS, {}, "contact"),
    "opportunity": Scope("opportunity", OPPORTUNITY_KEYWORDS, {}, "opportunity"),
    "task": Scope("task", TASK_KEYWORDS),
    **{name: Scope(name, ACTIVITY_KEYWORDS) for name in ACTIVITY_GROUPS.values()},
}

# Close keywords about data this server does not hold: a 400 that says so, never a wrong 200.
UNSUPPORTED = {
    "recipient": "email recipients are not searchable yet",
    "email_opened": "email opens are not tracked by this server",
    "sequence_subscription": "searching by sequence subscription is not supported yet",
    "sequence": "searching by sequence is not supported yet",
    "notifications": "notifications are not tracked by this server",
}
