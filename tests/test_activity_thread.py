"""Email threads: how emails find their thread, what a thread shows, deleting, and the feed."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from crmapi.storage import tables as t
from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]


@pytest.fixture
def lead(api: Api) -> Obj:
    return factories.lead(api, "Wayne")  # type: ignore[no-any-return]


def _email(api: Api, lead: Obj, **body: Any) -> Obj:
    body.setdefault("status", "inbox")
    body.setdefault("sender", "lucius@wayne.example")
    return api.ok("POST", "activity/email/", {"lead_id": lead["id"], **body})  # type: ignore[no-any-return]


def _events(app: Any, object_type: str, action: str) -> list[str]:
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_id).where(
                t.event.c.object_type == object_type, t.event.c.action == action
            )
        ).all()
    return [r.object_id for r in rows]


# How the second email relates to the first -> whether it joins the first one's thread.
RELATIONS: list[tuple[str, Any, bool]] = [
    ("in_reply_to_id", lambda first: {"in_reply_to_id": first["id"]}, True),
    ("references", lambda first: {"references": ["<x@y>", first["message_ids"][0]]}, True),
    ("same message id", lambda first: {"message_ids": first["message_ids"]}, True),
    ("unrelated headers", lambda first: {"references": ["<other@mail.example>"]}, False),
    ("no headers, same subject", lambda first: {"subject": "Re: Plans"}, False),
]


@pytest.mark.parametrize(("name", "relation", "joins"), RELATIONS, ids=[r[0] for r in RELATIONS])
def test_it_threads_a_reply_by_its_headers(
    api: Api, lead: Obj, name: str, relation: Any, joins: bool
) -> None:
    first = _email(api, lead, subject="Plans", message_ids=["<plans-1@mail.example>"])
    second = _email(api, lead, **relation(first))
    assert (second["thread_id"] == first["thread_id"]) is joins
    threads = api.ok("GET", "activity/emailthread/")["data"]
    assert len(threads) == (1 if joins else 2)


def test_it_threads_an_original_stored_after_its_reply(api: Api, lead: Obj) -> None:
    reply = _email(api, lead, message_ids=["<r@m>"], references=["<o@m>"])
    original = _email(api, lead, status="sent", message_ids=["<o@m>"])
    assert original["thread_id"] == reply["thread_id"]


def test_it_never_threads_across_leads(api: Api, lead: Obj) -> None:
    second_lead = factories.lead(api, "Other")
    first = _email(api, lead, message_ids=["<shared@m>"])
    same_headers = _email(api, second_lead, references=["<shared@m>"])
    reply_by_id = _email(api, second_lead, in_reply_to_id=first["id"])
    assert first["thread_id"] not in (same_headers["thread_id"], reply_by_id["thread_id"])
    assert reply_by_id["envelope"]["in_reply_to"] == "<shared@m>"


def test_it_matches_message_ids_exactly(api: Api, lead: Obj) -> None:
    # A LIKE-style wildcard in a Message-ID must not match other ids.
    first = _email(api, lead, message_ids=["<a_b@m>"])
    other = _email(api, lead, references=["<a%b@m>", "<a_c@m>"])
    assert other["thread_id"] != first["thread_id"]


def test_it_shows_a_thread_as_close_does(api: Api, lead: Obj) -> None:
    first = _email(
        api,
        lead,
        status="sent",
        sender="Bruce Wayne <bruce@wayne.example>",
        to=["Lucius Fox <lucius@wayne.example>"],
        subject="Plans",
        activity_at="2024-01-01T10:00:00Z",
    )
    reply = _email(
        api,
        lead,
        sender="Lucius Fox <LUCIUS@wayne.example>",
        to=["bruce@wayne.example"],
        cc=["alfred@wayne.example"],
        subject="RE: Fwd: Plans",
        in_reply_to_id=first["id"],
        activity_at="2024-01-02T10:00:00Z",
        body_text="Yes.",
    )
    thread = api.ok("GET", f"activity/emailthread/{first['thread_id']}/")
    assert thread["_type"] == "EmailThread"
    assert thread["lead_id"] == lead["id"]
    assert thread["n_emails"] == 2
    assert thread["latest_normalized_subject"] == "Plans"
    assert thread["activity_at"] == reply["activity_at"]  # follows the latest email
    assert thread["participants"] == [
        {"email": "lucius@wayne.example", "name": "Lucius Fox"},
        {"email": "bruce@wayne.example", "name": ""},
        {"email": "alfred@wayne.example", "name": ""},
    ]
    assert thread["users"] == [api.user_id]
    assert [e["id"] for e in thread["latest_emails"]] == [reply["id"], first["id"]]
    preview = thread["latest_emails"][0]
    assert set(preview) == {
        "id",
        "status",
        "direction",
        "subject",
        "sender",
        "to",
        "cc",
        "bcc",
        "body_preview",
        "envelope",
        "has_attachments",
        "opens_summary",
        "send_as_id",
        "user_id",
        "date_created",
        "date_updated",
        "date_sent",
    }
    assert preview["body_preview"] == "Yes."
    # GET one carries the full emails, newest first; lists do not.
    assert [e["id"] for e in thread["emails"]] == [reply["id"], first["id"]]
    assert thread["emails"][0] == api.ok("GET", f"activity/email/{reply['id']}/")
    (listed,) = api.ok("GET", "activity/emailthread/")["data"]
    assert "emails" not in listed
    assert {k: v for k, v in thread.items() if k != "emails"} == listed
    projected = api.ok("GET", f"activity/emailthread/{first['thread_id']}/?_fields=id,n_emails")
    assert projected == {"id": first["thread_id"], "n_emails": 2}


def test_it_deletes_a_thread_with_its_emails(app: Any, api: Api, lead: Obj) -> None:
    first = _email(api, lead)
    reply = _email(api, lead, in_reply_to_id=first["id"])
    kept = _email(api, lead)
    assert api.ok("DELETE", f"activity/emailthread/{first['thread_id']}/") == {}
    for gone in (first, reply):
        assert api.get(f"activity/email/{gone['id']}/").status_code == 404
    assert api.get(f"activity/emailthread/{first['thread_id']}/").status_code == 404
    assert [e["id"] for e in api.ok("GET", "activity/email/")["data"]] == [kept["id"]]
    deleted = _events(app, "activity.email", "deleted")
    assert sorted(deleted) == sorted([first["id"], reply["id"]])
    assert _events(app, "activity.email_thread", "deleted") == [first["thread_id"]]


def test_it_keeps_the_thread_in_step_with_its_emails(app: Any, api: Api, lead: Obj) -> None:
    first = _email(api, lead, activity_at="2024-01-01T10:00:00Z")
    reply = _email(api, lead, in_reply_to_id=first["id"], activity_at="2024-01-05T10:00:00Z")
    path = f"activity/emailthread/{first['thread_id']}/"
    assert api.ok("GET", path)["activity_at"] == reply["activity_at"]
    api.ok("DELETE", f"activity/email/{reply['id']}/")
    thread = api.ok("GET", path)
    assert (thread["n_emails"], thread["activity_at"]) == (1, first["activity_at"])
    assert first["thread_id"] in _events(app, "activity.email_thread", "updated")
    api.ok("DELETE", f"activity/email/{first['id']}/")
    assert api.get(path).status_code == 404  # the last email took its thread along
    assert _events(app, "activity.email_thread", "deleted") == [first["thread_id"]]


@pytest.mark.parametrize("verb", ["POST", "PUT"])
def test_it_has_no_thread_create_or_update(api: Api, lead: Obj, verb: str) -> None:
    email = _email(api, lead)
    path = "activity/emailthread/" + (f"{email['thread_id']}/" if verb == "PUT" else "")
    response = api.request(verb, path, json={"lead_id": lead["id"]})
    assert response.status_code == 405
    assert "error" in response.json()


def test_it_hides_threads_of_other_organizations(api: Api, other: Api, lead: Obj) -> None:
    email = _email(api, lead)
    assert other.get(f"activity/emailthread/{email['thread_id']}/").status_code == 404
    assert other.delete(f"activity/emailthread/{email['thread_id']}/").status_code == 404
    assert other.ok("GET", "activity/emailthread/")["data"] == []
    assert api.get(f"activity/email/{email['id']}/").status_code == 200


@contextmanager
def _counting(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    engine = app.state.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_it_lists_threads_without_a_query_per_thread(app: Any, api: Api, lead: Obj) -> None:
    def statements() -> int:
        with _counting(app) as seen:
            api.ok("GET", "activity/emailthread/")
            api.ok("GET", "activity/", params={"lead_id": lead["id"], "thread_emails": "only"})
        return len(seen)

    _email(api, lead)
    few = statements()
    for _ in range(5):
        first = _email(api, lead)
        _email(api, lead, in_reply_to_id=first["id"])
    assert len(api.ok("GET", "activity/emailthread/")["data"]) == 6
    assert statements() == few


THREAD_MODES: list[tuple[dict[str, str], set[str], bool]] = [
    ({}, {"Email", "Created"}, True),
    ({"thread_emails": "true"}, {"Email", "EmailThread", "Created"}, False),
    ({"thread_emails": "only"}, {"EmailThread", "Created"}, False),
    ({"thread_emails": "ONLY"}, {"EmailThread", "Created"}, False),
]


@pytest.mark.parametrize(("params", "types", "full_emails"), THREAD_MODES)
def test_it_serves_thread_emails_modes_in_the_feed(
    api: Api, lead: Obj, params: dict[str, str], types: set[str], full_emails: bool
) -> None:
    first = _email(api, lead, body_text="Hello")
    reply = _email(api, lead, in_reply_to_id=first["id"])
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"], **params})["data"]
    assert {a["_type"] for a in feed} == types
    emails = [a for a in feed if a["_type"] == "Email"]
    threads = [a for a in feed if a["_type"] == "EmailThread"]
    if "Email" in types:
        assert {e["id"] for e in emails} == {first["id"], reply["id"]}
        assert all(("body_text" in e) is full_emails for e in emails)
        assert all(e["thread_id"] == first["thread_id"] for e in emails)
    if threads:
        (thread,) = threads
        assert thread["id"] == first["thread_id"]
        assert thread["n_emails"] == 2


def test_it_rejects_an_unknown_thread_emails_mode(api: Api, lead: Obj) -> None:
    response = api.get("activity/", params={"lead_id": lead["id"], "thread_emails": "yes"})
    assert response.status_code == 400
    assert "thread_emails" in response.json()["field-errors"]
