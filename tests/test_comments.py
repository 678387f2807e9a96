"""Comments and comment threads (/comment/, /comment_thread/, more.md §2).

Fidelity as data: each request below, with what Close answers (status and body keys). The
commented object's ``comment_summary`` is checked on its single GET, its typed list and the
feed; events on the event log and a webhook.
"""

from collections.abc import Callable
from typing import Any

import pytest

from crmapi.activities import write
from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.domain.context import Principal
from crmapi.resources import accounts
from tests import factories
from tests.conftest import Api, case_id
from tests.test_webhooks import deliver, hapi, happ, hook_settings, receiver, subscribe  # noqa: F401

Obj = dict[str, Any]
MENTION = '<span data-type="mention" data-id="{id}" data-label="Ann" class="mention">@Ann</span>'


def _comment(api: Api, object_id: str, body: str = "<body><p>Nice one</p></body>") -> Obj:
    response = api.post("comment/", {"object_id": object_id, "body": body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _note(api: Api) -> Obj:
    return factories.note(api, factories.lead(api)["id"])


def _teammate(app: Any, api: Api) -> Api:
    with app.state.db.write() as conn:
        added = accounts.add_user(conn, api.org_id, "ann@acme.example", "Ann", "Lee")
    return Api(api.client, added["api_key"], {"organization_id": api.org_id, **added})


def _summary_everywhere(api: Api, activity: Obj) -> list[Any]:
    """The note's comment_summary on its GET, its typed list and the feed."""
    path = "activity/note/"
    lead = {"lead_id": activity["lead_id"]}
    single = api.ok("GET", f"{path}{activity['id']}/")["comment_summary"]
    typed = [a for a in api.ok("GET", path, params=lead)["data"] if a["id"] == activity["id"]]
    feed = [a for a in api.ok("GET", "activity/", params=lead)["data"] if a["id"] == activity["id"]]
    return [single, typed[0]["comment_summary"], feed[0]["comment_summary"]]


def test_a_comment_on_a_note_shows_in_its_comment_summary_everywhere(api: Api) -> None:
    note = _note(api)
    assert _summary_everywhere(api, note) == [None, None, None]
    comment = _comment(api, note["id"])
    assert comment["id"].startswith("comm_")
    assert comment["thread_id"].startswith("comthr_")
    summary = {"comment_count": 1, "thread_id": comment["thread_id"]}
    assert _summary_everywhere(api, note) == [summary] * 3
    _comment(api, note["id"], "Another")
    summary = {"comment_count": 2, "thread_id": comment["thread_id"]}
    assert _summary_everywhere(api, note) == [summary] * 3
    # An update of the note keeps its summary.
    api.ok("PUT", f"activity/note/{note['id']}/", {"note": "Changed"})
    assert _summary_everywhere(api, note) == [summary] * 3


def test_the_created_comment_and_its_thread_are_close_shaped(api: Api) -> None:
    note = _note(api)
    comment = _comment(api, note["id"])
    assert comment == {
        "id": comment["id"],
        "thread_id": comment["thread_id"],
        "lead_id": note["lead_id"],
        "organization_id": api.org_id,
        "body": "<body><p>Nice one</p></body>",
        "mentions": [],
        "created_by": api.user_id,
        "updated_by": api.user_id,
        "created_at": comment["created_at"],
        "updated_at": comment["created_at"],
        "removed_at": None,
        "removed_by": None,
    }
    assert api.ok("GET", f"comment/{comment['id']}/") == comment
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert thread == {
        "id": comment["thread_id"],
        "object_id": note["id"],
        "object_type": "activity.note",
        "lead_id": note["lead_id"],
        "organization_id": api.org_id,
        "num_comments": 1,
        "participating": [api.user_id],
        "created_at": thread["created_at"],
        "updated_at": thread["updated_at"],
    }


@pytest.mark.parametrize("spec", ACTIVITY_TYPES, ids=lambda s: s.type)
def test_every_activity_type_takes_comments(app: Any, api: Api, spec: Any) -> None:
    lead = factories.lead(api)
    with app.state.db.write() as conn:
        wc = write.WriteContext(conn, Principal(api.org_id, api.user_id))
        activity = write.system_create(wc, spec, {"lead_id": lead["id"]})
    comment = _comment(api, activity["id"])
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert thread["object_type"] == f"activity.{spec.event_type}"
    summary = {"comment_count": 1, "thread_id": comment["thread_id"]}
    if "get" in spec.verbs:
        single = api.ok("GET", f"activity/{spec.path}/{activity['id']}/")
        assert single["comment_summary"] == summary
    threads = {"thread_emails": "only"} if spec.type == "EmailThread" else {}
    feed = api.ok("GET", "activity/", params={"lead_id": lead["id"], **threads})
    found = [a for a in feed["data"] if a["id"] == activity["id"]]
    listed = spec.in_default_feed or spec.type == "EmailThread"
    assert [a["comment_summary"] for a in found] == ([summary] if listed else [])


def test_an_opportunity_carries_its_comment_summary(api: Api) -> None:
    lead = factories.lead(api)
    opportunity = factories.opportunity(api, lead["id"])
    assert opportunity["comment_summary"] is None
    comment = _comment(api, opportunity["id"])
    summary = {"comment_count": 1, "thread_id": comment["thread_id"]}
    assert api.ok("GET", f"opportunity/{opportunity['id']}/")["comment_summary"] == summary
    listed = api.ok("GET", "opportunity/", params={"lead_id": lead["id"]})["data"]
    assert [o["comment_summary"] for o in listed] == [summary]
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert thread["object_type"] == "opportunity"


# Refused requests: (method, path, body or params, status, what the body names). ``{note}``
# is a note of the caller's organization, ``{foreign}`` one of another organization.
REFUSED: list[tuple[str, str, Obj, int, set[str]]] = [
    ("POST", "comment/", {}, 400, {"body", "object_id"}),
    ("POST", "comment/", {"object_id": "{note}"}, 400, {"body"}),
    ("POST", "comment/", {"object_id": "{note}", "body": ""}, 400, {"body"}),
    ("POST", "comment/", {"body": "x", "object_id": "{lead}"}, 400, {"object_id"}),
    ("POST", "comment/", {"body": "x", "object_id": "acti_nope"}, 400, {"object_id"}),
    ("POST", "comment/", {"body": "x", "object_id": "{foreign}"}, 400, {"object_id"}),
    ("GET", "comment/", {}, 400, {"object_id"}),
    ("GET", "comment/", {"object_id": "{note}", "thread_id": "comthr_x"}, 400, {"errors"}),
    ("GET", "comment/comm_nope/", {}, 404, {"error"}),
    ("PUT", "comment/comm_nope/", {"body": "x"}, 404, {"error"}),
    ("DELETE", "comment/comm_nope/", {}, 404, {"error"}),
    ("GET", "comment_thread/comthr_nope/", {}, 404, {"error"}),
]


@pytest.mark.parametrize(("method", "path", "sent", "status", "named"), REFUSED, ids=case_id)
def test_refused_requests(
    api: Api, other: Api, method: str, path: str, sent: Obj, status: int, named: set[str]
) -> None:
    note = _note(api)
    refs = {"{note}": note["id"], "{lead}": note["lead_id"], "{foreign}": _note(other)["id"]}
    filled = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in sent.items()}
    kw = {"params": filled} if method == "GET" else {"json": filled}
    response = api.request(method, path, **kw)
    assert response.status_code == status, response.text
    body = response.json()
    keys = set(body.get("field-errors", {})) if body.get("field-errors") else set(body)
    assert named <= keys, body


def test_only_the_author_edits_a_comment(app: Any, api: Api) -> None:
    comment = _comment(api, _note(api)["id"])
    ann = _teammate(app, api)
    assert ann.put(f"comment/{comment['id']}/", {"body": "Mine now"}).status_code == 403
    edited = api.ok("PUT", f"comment/{comment['id']}/", {"body": "Edited"})
    assert (edited["body"], edited["updated_by"]) == ("<body>Edited</body>", api.user_id)
    # Another member reads it and answers in the same thread.
    assert ann.ok("GET", f"comment/{comment['id']}/") == edited
    answer = _comment(ann, comment_object(api, comment))
    assert answer["thread_id"] == comment["thread_id"]
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert (thread["num_comments"], thread["participating"]) == (2, [api.user_id, ann.user_id])


def comment_object(api: Api, comment: Obj) -> str:
    return str(api.ok("GET", f"comment_thread/{comment['thread_id']}/")["object_id"])


def test_rich_text_is_sanitised_and_mentions_are_listed(app: Any, api: Api) -> None:
    ann = _teammate(app, api)
    sent = (
        f'<body><p onclick="x()">Hi {MENTION.format(id=ann.user_id)}</p>'
        '<script>alert(1)</script><a href="javascript:alert(2)">x</a></body>'
    )
    note = _note(api)
    comment = _comment(api, note["id"], sent)
    assert comment["body"] == f"<body><p>Hi {MENTION.format(id=ann.user_id)}</p><a>x</a></body>"
    assert comment["mentions"] == [ann.user_id]
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert thread["participating"] == [api.user_id, ann.user_id]
    # Notes take rich text through the same code: sanitised, mentions listed.
    html = api.ok("POST", "activity/note/", {"lead_id": note["lead_id"], "note_html": sent})
    assert html["note_html"] == comment["body"]
    assert html["note_mentions"] == [ann.user_id]
    assert "alert" not in html["note"]


def test_a_removed_comment_stays_until_its_thread_has_none_left(api: Api) -> None:
    note = _note(api)
    first = _comment(api, note["id"], "First")
    second = _comment(api, note["id"], "Second")
    thread_id = first["thread_id"]
    assert api.delete(f"comment/{first['id']}/").status_code == 204
    removed = api.ok("GET", f"comment/{first['id']}/")
    assert (removed["body"], removed["removed_by"]) == ("", api.user_id)
    assert removed["removed_at"] is not None
    listed = api.ok("GET", "comment/", params={"thread_id": thread_id})["data"]
    assert [c["id"] for c in listed] == [first["id"], second["id"]]
    by_object = api.ok("GET", "comment/", params={"object_id": note["id"]})
    assert by_object["data"] == listed
    assert _summary_everywhere(api, note) == [{"comment_count": 1, "thread_id": thread_id}] * 3
    assert api.put(f"comment/{first['id']}/", {"body": "Back"}).status_code == 400
    assert api.delete(f"comment/{second['id']}/").status_code == 204
    assert api.get(f"comment_thread/{thread_id}/").status_code == 404
    assert api.get(f"comment/{first['id']}/").status_code == 404
    assert _summary_everywhere(api, note) == [None, None, None]
    # A new comment opens a new thread.
    assert _comment(api, note["id"])["thread_id"] != thread_id


def test_threads_list_by_ids_and_object_ids(api: Api) -> None:
    notes = [_note(api) for _ in range(3)]
    threads = [_comment(api, n["id"])["thread_id"] for n in notes]
    listed = api.ok("GET", "comment_thread/")["data"]
    assert [t["id"] for t in listed] == threads
    by_ids = api.ok("GET", "comment_thread/", params={"ids": f"{threads[0]},{threads[2]}"})
    assert [t["id"] for t in by_ids["data"]] == [threads[0], threads[2]]
    by_object = api.ok("GET", "comment_thread/", params={"object_ids": notes[1]["id"]})
    assert [t["id"] for t in by_object["data"]] == [threads[1]]
    page = api.ok("GET", "comment_thread/", params={"_limit": 2})
    assert (len(page["data"]), page["has_more"]) == (2, True)
    newest = api.ok("GET", "comment_thread/", params={"_order_by": "-created_at"})["data"]
    assert [t["id"] for t in newest] == threads[::-1]


def _events(api: Api, object_id: str, object_type: str) -> list[str]:
    params = {"object_type": object_type, "object_id": object_id}
    return sorted(e["action"] for e in api.ok("GET", "event/", params=params)["data"])


Target = Callable[[Api], tuple[Obj, str]]


def _on_note(api: Api) -> tuple[Obj, str]:
    note = _note(api)
    return note, f"activity/note/{note['id']}/"


def _on_opportunity(api: Api) -> tuple[Obj, str]:
    opportunity = factories.opportunity(api, factories.lead(api)["id"])
    return opportunity, f"opportunity/{opportunity['id']}/"


def _on_lead(api: Api) -> tuple[Obj, str]:
    note = _note(api)
    return note, f"lead/{note['lead_id']}/"


@pytest.mark.parametrize("target", [_on_note, _on_opportunity, _on_lead], ids=lambda f: f.__name__)
def test_deleting_the_commented_object_deletes_its_thread(api: Api, target: Target) -> None:
    commented, delete_path = target(api)
    comment = _comment(api, commented["id"])
    removed = _comment(api, commented["id"], "Gone already")
    assert api.delete(f"comment/{removed['id']}/").status_code == 204
    api.ok("DELETE", delete_path)
    assert api.get(f"comment/{comment['id']}/").status_code == 404
    assert api.get(f"comment_thread/{comment['thread_id']}/").status_code == 404
    assert _events(api, comment["id"], "comment") == ["created", "deleted"]
    assert _events(api, comment["thread_id"], "comment_thread") == [
        "created",
        "deleted",
        "updated",
        "updated",
    ]


def test_comments_follow_their_lead_through_a_merge(api: Api) -> None:
    note = _note(api)
    comment = _comment(api, note["id"])
    destination = factories.lead(api, "Acme")
    api.ok("POST", "lead/merge/", {"source": note["lead_id"], "destination": destination["id"]})
    assert api.ok("GET", f"comment/{comment['id']}/")["lead_id"] == destination["id"]
    thread = api.ok("GET", f"comment_thread/{comment['thread_id']}/")
    assert (thread["lead_id"], thread["num_comments"]) == (destination["id"], 1)
    moved = api.ok("GET", f"activity/note/{note['id']}/")
    assert moved["comment_summary"] == {"comment_count": 1, "thread_id": comment["thread_id"]}
    assert "updated" in _events(api, comment["id"], "comment")


def test_an_activitys_lead_is_fixed_so_its_thread_never_needs_to_follow(api: Api) -> None:
    note = _note(api)
    comment = _comment(api, note["id"])
    other = factories.lead(api, "Acme")
    # lead_id is a create-only field of every activity: a PUT of it changes nothing.
    moved = api.ok("PUT", f"activity/note/{note['id']}/", {"lead_id": other["id"]})
    assert moved["lead_id"] == note["lead_id"]
    assert api.ok("GET", f"comment/{comment['id']}/")["lead_id"] == note["lead_id"]
    assert _events(api, comment["id"], "comment") == ["created"]


def test_comment_events_reach_the_log_and_a_webhook(happ: Any, hapi: Api, receiver: Any) -> None:  # noqa: F811
    kinds = ("comment", "comment_thread")
    actions = ("created", "updated", "deleted")
    events = [{"object_type": k, "action": a} for k in kinds for a in actions]
    sub = subscribe(hapi, receiver.url, events)
    note = _note(hapi)
    comment = _comment(hapi, note["id"])
    hapi.ok("PUT", f"comment/{comment['id']}/", {"body": "Edited"})
    assert hapi.delete(f"comment/{comment['id']}/").status_code == 204
    assert _events(hapi, comment["id"], "comment") == ["created", "deleted", "updated"]
    assert _events(hapi, comment["thread_id"], "comment_thread") == ["created", "deleted"]
    assert deliver(happ) == 5
    sent = receiver.payloads(sub["signature_key"])
    assert sorted((p["event"]["object_type"], p["event"]["action"]) for p in sent) == [
        ("comment", "created"),
        ("comment", "deleted"),
        ("comment", "updated"),
        ("comment_thread", "created"),
        ("comment_thread", "deleted"),
    ]
