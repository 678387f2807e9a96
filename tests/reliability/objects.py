"""One object of every kind the API can create, built from the route table's declarations.

Bodies are generated from each POST's ``FieldSet`` (required fields filled by kind, references
pointed at the lead and contact created first); ``OVERRIDES`` adds what a type's write rules
need beyond its declarations. A new creatable route works here without edits, or fails loudly.
"""

from collections.abc import Callable
from typing import Any

from crmapi.domain.fields import Field
from crmapi.http.endpoint import Op
from crmapi.http.routing import route_table

Send = Callable[[str, str, dict[str, Any] | None], tuple[int, Any]]

Refs = dict[str, Any]


def _nth(refs: Refs, key: str, n: int) -> Any:
    found = refs.get(key) or []
    return found[n] if len(found) > n else None


_NOTHING = {
    "type": "and",
    "queries": [
        {"type": "object_type", "object_type": "lead"},
        {
            "type": "field_condition",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
            "condition": {"type": "text", "mode": "exact_value", "value": "no such lead"},
        },
    ],
}

# Extra body keys some paths need (write rules beyond the field declarations), built from the
# ids already known (``refs``: lead_id, contact_id, statuses, custom_activity_type_id...).
OVERRIDES: dict[str, Callable[[Refs], dict[str, Any]]] = {
    "/lead/": lambda r: {"name": "Isolated Inc", "contacts": [{"name": "Nested"}]},
    "/contact/": lambda r: {"name": "Ann", "emails": [{"email": "ann@example.com"}]},
    "/status/lead/": lambda r: {"label": "Tenant A only"},
    "/custom_activity/": lambda r: {"name": "Demo call review"},
    "/pipeline/": lambda r: {"name": "Tenant A pipeline"},
    "/status/opportunity/": lambda r: {
        "label": "Tenant A stage",
        "type": "active",
        "pipeline_id": r.get("pipeline_id"),
    },
    "/task/": lambda r: {"lead_id": r.get("lead_id"), "text": "Call back"},
    "/activity/email/": lambda r: {"status": "draft", "subject": "Hello"},
    "/activity/whatsapp_message/": lambda r: {
        "local_phone": "+14155550100",
        "remote_phone": "+14155550101",
    },
    # An action, not an object: only B's attempt on A's leads is tested (never created).
    "/lead/merge/": lambda r: {"source": r.get("other_lead_id"), "destination": r.get("lead_id")},
    "/activity/custom/": lambda r: {"custom_activity_type_id": r.get("custom_activity_type_id")},
    "/activity/status_change/lead/": lambda r: {
        "old_status_id": _nth(r, "lead_statuses", 0),
        "new_status_id": _nth(r, "lead_statuses", 1),
    },
    "/webhook/": lambda r: {
        "url": "http://127.0.0.1:9/tenant-a",
        "events": [{"object_type": "activity.note", "action": "created"}],
    },
    # Jobs whose search matches no lead: they are objects to isolate, never a change to data.
    "/bulk_action/edit/": lambda r: {
        "type": "set_lead_status",
        "lead_status_id": _nth(r, "lead_statuses", 0),
        "s_query": _NOTHING,
    },
    # Another member may send as the caller (the last user; the caller in a one-member org).
    "/send_as/": lambda r: {"allowed_user_id": (r.get("user_ids") or [None])[-1]},
    "/integration_link/": lambda r: {
        "name": "Search",
        "url": "https://www.google.com/search?q={{lead.display_name}}",
    },
    "/saved_search/": lambda r: {"name": "Tenant A view", "s_query": {"query": _NOTHING}},
    "/bulk_action/delete/": lambda r: {"bulk_object_type": "call", "s_query": _NOTHING},
    "/bulk_action/email/": lambda r: {
        "template_id": r.get("email_template_id"),
        "sender": "sales@example.com",
        "s_query": _NOTHING,
    },
    "/bulk_action/sequence_subscription/": lambda r: {"action_type": "pause", "s_query": _NOTHING},
    # A call step needs no template; the subscription names the contact made first.
    "/sequence/": lambda r: {
        "name": "Tenant A sequence",
        "timezone": "America/Los_Angeles",
        "steps": [{"step_type": "call", "delay": 86400}],
    },
    "/sequence_subscription/": lambda r: {
        "contact_email": "ann@example.com",
        "sender_email": "sales@example.com",
    },
    "/comment/": lambda r: {"object_id": r.get("note_id")},
    "/activity/status_change/opportunity/": lambda r: {
        "old_status_id": _nth(r, "opportunity_statuses", 0),
        "new_status_id": _nth(r, "opportunity_statuses", 1),
    },
}


def _custom_field(kind: str) -> Callable[[Refs], dict[str, Any]]:
    def body(refs: Refs) -> dict[str, Any]:
        extra = {"custom_activity_type_id": refs.get("custom_activity_type_id")}
        return {
            "name": f"Field {len(refs)}",
            "type": "text",
            **(extra if kind == "activity" else {}),
        }

    return body


for _kind in ("lead", "contact", "opportunity", "activity"):
    for _prefix in ("/custom_field/", "/custom_fields/"):
        OVERRIDES[f"{_prefix}{_kind}/"] = _custom_field(_kind)
# Created first: later bodies point at them (path -> the body key their id fills).
FIRST = {
    "/pipeline/": "pipeline_id",
    "/lead/": "lead_id",
    "/contact/": "contact_id",
    "/custom_activity/": "custom_activity_type_id",
    "/sequence/": "sequence_id",
    "/email_template/": "email_template_id",
    "/activity/note/": "note_id",  # what the comment comments on
}


def _value(f: Field) -> Any:
    samples: dict[str, Any] = {
        "str": "x",
        "int": 1,
        "number": 1,
        "bool": True,
        "datetime": "2024-03-03T10:00:06+00:00",
        "date": "2024-03-03",
        "str_list": [],
        "object": {},
        "object_list": [],
        "id": "unknown",
    }
    return f.choices[0] if f.kind == "enum" and f.choices else samples.get(f.kind, "x")


def body_for(path: str, op: Op, refs: Refs) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if op.fields is not None:
        for f in op.fields.fields:
            if f.create and f.required:
                body[f.name] = _value(f)
            if f.create and f.name in refs:
                body[f.name] = refs[f.name]
    override = OVERRIDES.get(path)
    if override is not None:
        body.update({k: v for k, v in override(refs).items() if v is not None})
    return body


def creatable() -> list[tuple[str, Op]]:
    """Every collection path with a POST, those in ``FIRST`` first."""
    table = dict(route_table())
    found = [
        (path, ops["POST"])
        for path, ops in table.items()
        if "POST" in ops and path + "{id}/" in table  # a collection, not an action
    ]
    order = list(FIRST)
    return sorted(found, key=lambda item: order.index(item[0]) if item[0] in FIRST else len(order))


def create_everything(send: Send) -> dict[str, str]:
    """``{collection path: id}`` of one new object per creatable path; raises on any failure."""
    refs: Refs = {}
    for kind in ("lead", "opportunity"):
        status, listed = send("GET", f"/status/{kind}/", None)
        refs[f"{kind}_statuses"] = (
            [s["id"] for s in listed.get("data", [])] if status == 200 else []
        )
    status, users = send("GET", "/user/", None)
    refs["user_ids"] = [u["id"] for u in users.get("data", [])] if status == 200 else []
    created: dict[str, str] = {}
    problems = []
    for path, op in creatable():
        status, body = send("POST", path, body_for(path, op, refs))
        if not 200 <= status < 300 or "id" not in body:
            problems.append(f"POST {path} -> {status} {body}")
            continue
        created[path] = body["id"]
        if path in FIRST:
            refs[FIRST[path]] = body["id"]
    if problems:
        raise AssertionError(
            "Could not create an object for every creatable path (add an OVERRIDES entry in "
            "tests/reliability/objects.py):\n" + "\n".join(problems)
        )
    return created
