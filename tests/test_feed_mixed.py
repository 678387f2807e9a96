"""One lead with an activity of every type, read back through ``GET /activity/`` with
``_type__in``, ``_fields`` and ``thread_emails`` combined (runs on both backends)."""

from typing import Any

import pytest

from crmapi.activities import write
from crmapi.activities.registry import ACTIVITY_TYPES, BY_TYPE
from crmapi.activities.types import meeting
from crmapi.domain.context import Principal
from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]
ACTITYPE = "actitype_0000000000000000000000demo"

# Types written by the system (or by other resources) are inserted the way the system does.
SYSTEM: dict[str, Obj] = {
    "CustomActivity": {"custom_activity_type_id": ACTITYPE, "status": "published"},
    "FormSubmission": {"form_id": "form_1", "values": {"formfld_1": "Bruce"}},
    "LeadStatusChange": {"old_status_label": "Potential", "new_status_label": "Qualified"},
    "OpportunityStatusChange": {"opportunity_id": "oppo_1", "new_status_type": "won"},
    "LeadMerge": {"source_display_name": "Old Wayne", "merge_status": "completed"},
    "TaskCompleted": {"task_id": "task_1", "task_text": "Call back"},
}


class Lead:
    """A lead holding every activity type, and a second lead that must never leak in."""

    def __init__(self, app: Any, api: Api) -> None:
        self.app, self.api = app, api
        lead = factories.lead(api, "Wayne", contacts=[{"name": "Lucius"}])
        self.id, self.contact = lead["id"], lead["contacts"][0]["id"]
        elsewhere = factories.lead(api, "Elsewhere")
        self.post("note", note="hello")
        self.post("call", direction="inbound", duration=60)
        self.post("sms", status="sent", text="hi")
        self.first = self.post("email", status="sent", subject="Plans", body_text="Plans attached")
        self.reply = self.post(
            "email", status="inbox", sender="l@wayne.example", in_reply_to_id=self.first["id"]
        )
        self.other_thread = self.post("email", status="draft", subject="Unrelated")
        self.post(
            "whatsapp_message",
            contact_id=self.contact,
            direction="incoming",
            external_whatsapp_message_id="wamid.1",
            local_phone="+16503334444",
            remote_phone="+18183004000",
            message_markdown="*hey*",
            activity_at="2025-01-01T00:00:00Z",
        )
        with app.state.db.write() as conn:
            wc = write.WriteContext(conn=conn, principal=Principal(api.org_id, api.user_id))
            meeting.add_meeting(
                wc,
                lead_id=self.id,
                title="Kickoff",
                starts_at="2030-01-01T10:00:00Z",
                ends_at="2030-01-01T11:00:00Z",
            )
            for type_name, values in SYSTEM.items():
                write.system_create(wc, BY_TYPE[type_name], {"lead_id": self.id, **values})
            write.system_create(wc, BY_TYPE["TaskCompleted"], {"lead_id": elsewhere["id"]})
        api.ok("POST", "activity/email/", {"lead_id": elsewhere["id"], "status": "draft"})

    def post(self, kind: str, **body: Any) -> Obj:
        return self.api.ok("POST", f"activity/{kind}/", {"lead_id": self.id, **body})  # type: ignore[no-any-return]

    def feed(self, **params: str) -> list[Obj]:
        return self.api.ok("GET", "activity/", params={"lead_id": self.id, **params})["data"]  # type: ignore[no-any-return]


@pytest.fixture
def mixed(app: Any, api: Api) -> Lead:
    return Lead(app, api)


def _count(items: list[Obj]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item["_type"]] = out.get(item["_type"], 0) + 1
    return out


def test_it_reads_every_type_back_through_the_feed(mixed: Lead) -> None:
    every = {s.type: 1 for s in ACTIVITY_TYPES}
    # Default feed: one object per email, no threads.
    default = _count(mixed.feed())
    assert default == {k: v for k, v in {**every, "Email": 3}.items() if k != "EmailThread"}
    # Threads and stripped-down emails together.
    both = mixed.feed(thread_emails="true")
    assert _count(both) == {**every, "Email": 3, "EmailThread": 2}
    assert all("body_text" not in a for a in both if a["_type"] == "Email")
    assert all(a["lead_id"] == mixed.id for a in both)
    # Threads only.
    only = _count(mixed.feed(thread_emails="only"))
    assert only == {k: v for k, v in {**every, "EmailThread": 2}.items() if k != "Email"}


def test_it_combines_type_fields_and_thread_filters(mixed: Lead) -> None:
    wanted = "Email,EmailThread,Meeting,WhatsAppMessage,Custom,LeadStatusChange"
    fields = "id,_type,thread_id,n_emails,latest_normalized_subject,title,text,body_text,subject"
    got = mixed.feed(_type__in=wanted, _fields=fields, thread_emails="true")
    assert _count(got) == {
        "Email": 3,
        "EmailThread": 2,
        "Meeting": 1,
        "WhatsAppMessage": 1,
        "CustomActivity": 1,
        "LeadStatusChange": 1,
    }
    for item in got:
        assert set(item) <= set(fields.split(","))
        assert {"id", "_type"} <= set(item)
    threads = {a["id"]: a for a in got if a["_type"] == "EmailThread"}
    assert threads[mixed.first["thread_id"]]["n_emails"] == 2
    assert threads[mixed.first["thread_id"]]["latest_normalized_subject"] == "Plans"
    assert threads[mixed.other_thread["thread_id"]]["n_emails"] == 1
    emails = [a for a in got if a["_type"] == "Email"]
    # Stripped-down emails: no body even when _fields asks for it, but their thread and subject.
    assert all(set(e) == {"id", "_type", "thread_id", "subject"} for e in emails)
    assert {e["thread_id"] for e in emails} == set(threads)
    (meeting_item,) = [a for a in got if a["_type"] == "Meeting"]
    assert meeting_item["title"] == "Kickoff"
    (whatsapp_item,) = [a for a in got if a["_type"] == "WhatsAppMessage"]
    assert whatsapp_item["text"] == "hey"


def test_it_combines_only_threads_with_a_type_list_and_ordering(mixed: Lead) -> None:
    got = mixed.feed(
        _type__in=f"Email,EmailThread,Note,{ACTITYPE},OpportunityStatusChange",
        _fields="id,_type,activity_at,n_emails",
        thread_emails="only",
        _order_by="-activity_at",
    )
    assert _count(got) == {
        "EmailThread": 2,
        "Note": 1,
        "CustomActivity": 1,
        "OpportunityStatusChange": 1,
    }
    times = [a["activity_at"] for a in got]
    assert times == sorted(times, reverse=True)
    assert all(set(a) <= {"id", "_type", "activity_at", "n_emails"} for a in got)
    # Without an expanded field in _fields the thread counts are not computed (nor shown).
    lean = mixed.feed(_type__in="EmailThread", _fields="id,_type", thread_emails="only")
    assert [set(a) for a in lean] == [{"id", "_type"}] * 2
