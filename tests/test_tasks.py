"""Tasks: fields, dates, views, filters, bulk update, and TaskCompleted written exactly when a
task is completed (and removed when it is un-completed)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from crmapi.storage import tables as t
from tests import factories
from tests.conftest import Api


@pytest.fixture
def lead(api: Api) -> dict[str, Any]:
    return factories.lead(api, "Wayne Enterprises", contacts=[{"name": "Bruce"}])


def _completions(api: Api, lead_id: str) -> list[dict[str, Any]]:
    return api.ok("GET", "activity/task_completed/", params={"lead_id": lead_id})["data"]


def _day(offset_days: int, tz: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(hours=tz, days=offset_days)).date().isoformat()


def test_it_creates_a_lead_task_with_close_fields(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok(
        "POST", "task/", {"lead_id": lead["id"], "text": "Call Bruce", "date": "2024-03-03"}
    )
    expected = {
        "_type": "lead",
        "lead_id": lead["id"],
        "lead_name": "Wayne Enterprises",
        "text": "Call Bruce",
        "date": "2024-03-03",
        "due_date": None,
        "assigned_to": api.user_id,
        "assigned_to_name": "Bruce Wayne",
        "contact_id": None,
        "contact_name": None,
        "is_complete": False,
        "is_dateless": False,
        "view": "inbox",
        "object_type": None,
        "object_id": None,
        "created_by": api.user_id,
        "organization_id": api.org_id,
    }
    assert task["id"].startswith("task_")
    assert {k: task[k] for k in expected} == expected
    assert api.ok("GET", f"task/{task['id']}/") == task


def test_an_undated_task_is_dated_today_and_dateless(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "Someday"})
    assert (task["date"], task["is_dateless"], task["view"]) == (_day(0), True, "inbox")


def test_a_datetime_is_kept_as_a_moment(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok(
        "POST", "task/", {"lead_id": lead["id"], "text": "x", "date": "2030-01-01T10:00:00-05:00"}
    )
    assert task["date"] == "2030-01-01T15:00:00.000000+00:00"
    assert task["view"] == "future"


def test_an_outgoing_call_task_needs_a_contact(api: Api, lead: dict[str, Any]) -> None:
    response = api.post("task/", {"_type": "outgoing_call", "lead_id": lead["id"]})
    assert response.json() == {"errors": [], "field-errors": {"contact": "This field is required."}}
    contact = lead["contacts"][0]
    task = api.ok(
        "POST",
        "task/",
        {"_type": "outgoing_call", "lead_id": lead["id"], "contact_id": contact["id"]},
    )
    assert (task["_type"], task["contact_name"], task["text"]) == ("outgoing_call", "Bruce", None)


@pytest.mark.parametrize(
    ("body", "field_errors"),
    [
        ({"text": "x"}, {"lead": "This field is required."}),
        ({"lead_id": "LEAD"}, {"text": "This field is required."}),
        ({"lead_id": "lead_nope", "text": "x"}, {"lead": "Object does not exist."}),
        (
            {"lead_id": "LEAD", "text": "x", "date": "soon"},
            {"date": "Not a valid date or datetime."},
        ),
        (
            {"lead_id": "LEAD", "text": "x", "assigned_to": "user_x"},
            {"assigned_to": "Object does not exist."},
        ),
        (
            {"lead_id": "LEAD", "text": "x", "contact_id": "cont_x"},
            {"contact": "Object does not exist."},
        ),
        (
            {"lead_id": "LEAD", "text": "x", "_type": "missed_call"},
            {"_type": "Not a valid choice. Valid choices are: lead, outgoing_call."},
        ),
        (
            {"lead_id": "LEAD", "text": "x", "is_complete": "yes"},
            {"is_complete": "Not a valid boolean."},
        ),
    ],
)
def test_it_rejects_bad_tasks_and_writes_nothing(
    api: Api, lead: dict[str, Any], body: dict[str, Any], field_errors: dict[str, str]
) -> None:
    body = {k: lead["id"] if v == "LEAD" else v for k, v in body.items()}
    response = api.post("task/", body)
    assert response.status_code == 400
    assert response.json() == {"errors": [], "field-errors": field_errors}
    assert api.ok("GET", "task/", params={"_type": "all"})["data"] == []


# --- completion ------------------------------------------------------------------------------


def test_completing_a_task_writes_task_completed_by_the_caller(
    api: Api, lead: dict[str, Any], app: Any, client: Any
) -> None:
    from crmapi.resources import accounts

    with app.state.db.write() as conn:
        added = accounts.add_user(conn, api.org_id, "robin@acme.example", "Dick", "Grayson")
    robin = Api(
        client, added["api_key"], {"organization_id": api.org_id, "user_id": added["user_id"]}
    )
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "Send proposal"})
    assert _completions(api, lead["id"]) == []
    done = robin.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    assert (done["is_complete"], done["view"]) == (True, "archive")
    (activity,) = _completions(api, lead["id"])
    expected = {
        "_type": "TaskCompleted",
        "lead_id": lead["id"],
        "task_id": task["id"],
        "task_text": "Send proposal",
        "task_assigned_to": api.user_id,
        "task_assigned_to_name": "Bruce Wayne",
        "user_id": added["user_id"],
        "user_name": "Dick Grayson",
        "created_by": added["user_id"],
    }
    assert {k: activity[k] for k in expected} == expected


@pytest.mark.parametrize(
    "update",
    [{"text": "y"}, {"is_complete": False}, {"date": "2024-01-01"}, {"assigned_to": "ME"}],
)
def test_changes_that_do_not_complete_write_nothing(
    api: Api, lead: dict[str, Any], update: dict[str, Any]
) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    update = {k: api.user_id if v == "ME" else v for k, v in update.items()}
    api.ok("PUT", f"task/{task['id']}/", update)
    assert _completions(api, lead["id"]) == []


def test_completing_twice_writes_one_activity(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True, "text": "y"})
    assert len(_completions(api, lead["id"])) == 1


def test_uncompleting_deletes_the_activity_and_recompleting_writes_a_new_one(
    api: Api, lead: dict[str, Any]
) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    (first,) = _completions(api, lead["id"])
    reopened = api.ok("PUT", f"task/{task['id']}/", {"is_complete": False})
    assert reopened["view"] == "inbox"
    assert _completions(api, lead["id"]) == []
    assert api.get(f"activity/task_completed/{first['id']}/").status_code == 404
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    (second,) = _completions(api, lead["id"])
    assert second["id"] != first["id"]


def test_uncompleting_after_the_activity_was_deleted_is_fine(
    api: Api, lead: dict[str, Any]
) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    (activity,) = _completions(api, lead["id"])
    api.ok("DELETE", f"activity/task_completed/{activity['id']}/")
    assert api.ok("PUT", f"task/{task['id']}/", {"is_complete": False})["is_complete"] is False


def test_a_task_created_complete_writes_its_activity(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x", "is_complete": True})
    assert task["is_complete"] is True
    assert [a["task_id"] for a in _completions(api, lead["id"])] == [task["id"]]


def test_deleting_a_task_keeps_its_completion_in_the_feed(api: Api, lead: dict[str, Any]) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    assert api.ok("DELETE", f"task/{task['id']}/") == {}
    assert api.get(f"task/{task['id']}/").status_code == 404
    assert len(_completions(api, lead["id"])) == 1


def test_events_are_emitted_for_task_writes(api: Api, lead: dict[str, Any], app: Any) -> None:
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x"})
    api.ok("PUT", f"task/{task['id']}/", {"is_complete": True})
    api.ok("DELETE", f"task/{task['id']}/")
    with app.state.db.read() as conn:
        rows = conn.execute(
            select(t.event.c.object_type, t.event.c.action).where(t.event.c.object_id == task["id"])
        ).all()
    assert sorted(tuple(r) for r in rows) == sorted(
        [
            ("task.lead", "created"),
            ("task.lead", "updated"),
            ("task.lead", "completed"),
            ("task.lead", "deleted"),
        ]
    )


# --- lists, views, bulk --------------------------------------------------------------------


@pytest.fixture
def board(api: Api, lead: dict[str, Any]) -> dict[str, dict[str, Any]]:
    contact = lead["contacts"][0]["id"]
    specs = {
        "past": {"text": "past", "date": _day(-3)},
        "today": {"text": "today", "date": _day(0)},
        "soon": {"text": "soon", "date": _day(2)},
        "done": {"text": "done", "date": _day(-1), "is_complete": True},
        "call": {"_type": "outgoing_call", "contact_id": contact, "date": _day(1)},
    }
    return {n: api.ok("POST", "task/", {"lead_id": lead["id"], **b}) for n, b in specs.items()}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({}, ["past", "done", "today", "soon"]),
        ({"_type": "all"}, ["past", "done", "today", "call", "soon"]),
        ({"_type": "outgoing_call"}, ["call"]),
        ({"_type": "missed_call"}, []),
        (
            {"_type__in": "lead,outgoing_call", "_order_by": "-date"},
            ["soon", "call", "today", "done", "past"],
        ),
        ({"view": "inbox"}, ["past", "today"]),
        ({"view": "future"}, ["soon"]),
        ({"view": "archive"}, ["done"]),
        ({"view": "inbox", "date__gte": "2000-01-01", "date__lt": "2000-01-02"}, ["past", "today"]),
        ({"is_complete": "false"}, ["past", "today", "soon"]),
        # TODAY is resolved when the test runs: collection may happen on the day before.
        ({"date__gte": "TODAY"}, ["today", "soon"]),
        ({"date__lt": "TODAY"}, ["past", "done"]),
        ({"_order_by": "date_created"}, ["past", "today", "soon", "done"]),
    ],
)
def test_it_lists_by_type_view_and_date(
    api: Api, board: dict[str, dict[str, Any]], params: dict[str, str], names: list[str]
) -> None:
    ids = {task["id"]: name for name, task in board.items()}
    params = {k: board["today"]["date"] if v == "TODAY" else v for k, v in params.items()}
    listed = api.ok("GET", "task/", params=params)
    got = [ids[task["id"]] for task in listed["data"]]
    if params.get("_order_by") == "date_created":
        assert sorted(got) == sorted(names)  # created in one instant: ties broken by id
    else:
        assert got == names
    assert listed["total_results"] == len(names)


def test_views_follow_the_callers_timezone(api: Api, lead: dict[str, Any]) -> None:
    # A day that is "tomorrow" for someone at UTC+14 while still today at UTC-12 somewhere.
    local_tomorrow = _day(1, -12)
    task = api.ok("POST", "task/", {"lead_id": lead["id"], "text": "x", "date": local_tomorrow})
    ahead = api.ok("GET", f"task/{task['id']}/", headers={"x-tz-offset": "14"})
    behind = api.ok("GET", f"task/{task['id']}/", headers={"x-tz-offset": "-12"})
    assert (behind["view"], ahead["view"]) == ("future", "inbox")


def test_it_filters_by_lead_and_assignee(
    api: Api, board: dict[str, dict[str, Any]], other: Api
) -> None:
    assert len(api.ok("GET", "task/", params={"assigned_to": api.user_id})["data"]) == 4
    assert api.ok("GET", "task/", params={"lead_id": "lead_x"})["data"] == []
    assert other.ok("GET", "task/", params={"_type": "all"})["data"] == []
    ids = f"{board['past']['id']},{board['soon']['id']}"
    assert len(api.ok("GET", "task/", params={"id__in": ids})["data"]) == 2


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"view": "later"}, "view"),
        ({"_type": "chore"}, "_type"),
        ({"_order_by": "text"}, "_order_by"),
    ],
)
def test_bad_task_list_parameters_are_400(api: Api, params: dict[str, str], key: str) -> None:
    response = api.get("task/", params=params)
    assert response.status_code == 400
    assert key in response.json()["field-errors"]


def test_airbyte_reads_every_task_type(api: Api, board: dict[str, dict[str, Any]]) -> None:
    for kind in ("lead", "outgoing_call", "incoming_email", "voicemail", "opportunity_due"):
        api.ok("GET", "task", params={"_limit": 1000, "_type": kind, "_order_by": "date_created"})


def test_bulk_update_completes_the_selected_tasks(
    api: Api, board: dict[str, dict[str, Any]], lead: dict[str, Any]
) -> None:
    ids = f"{board['past']['id']},{board['today']['id']}"
    assert api.ok("PUT", "task/", {"is_complete": True}, params={"id__in": ids}) == {"ok": True}
    done = api.ok("GET", "task/", params={"view": "archive"})["data"]
    assert {task["text"] for task in done} == {"past", "today", "done"}
    assert len(_completions(api, lead["id"])) == 3


def test_bulk_update_takes_params_in_the_body(
    api: Api, board: dict[str, dict[str, Any]], app: Any, client: Any
) -> None:
    from crmapi.resources import accounts

    with app.state.db.write() as conn:
        added = accounts.add_user(conn, api.org_id, "robin@acme.example", "Dick", "Grayson")
    body = {
        "_params": {"id__in": [board["soon"]["id"]]},
        "assigned_to": added["user_id"],
        "date": "2031-01-01",
        "text": "ignored",
    }
    api.ok("PUT", "task/", body)
    task = api.ok("GET", f"task/{board['soon']['id']}/")
    assert (task["assigned_to_name"], task["date"], task["text"]) == (
        "Dick Grayson",
        "2031-01-01",
        "soon",
    )


@pytest.mark.parametrize(
    ("params", "body"),
    [({}, {"is_complete": True}), ({"id__in": "task_x"}, {"text": "no settable field"})],
)
def test_bulk_update_needs_a_filter_and_a_field(
    api: Api, board: dict[str, dict[str, Any]], params: dict[str, str], body: dict[str, Any]
) -> None:
    response = api.put("task/", body, params=params)
    assert response.status_code == 400
    assert api.ok("GET", "task/", params={"view": "archive"})["total_results"] == 1


def test_bulk_update_is_all_or_nothing(api: Api, board: dict[str, dict[str, Any]]) -> None:
    response = api.put(
        "task/", {"is_complete": True, "assigned_to": "user_nope"}, params={"view": "inbox"}
    )
    assert response.status_code == 400
    assert api.ok("GET", "task/", params={"view": "archive"})["total_results"] == 1


def test_leads_embed_only_incomplete_tasks(
    api: Api, board: dict[str, dict[str, Any]], lead: dict[str, Any]
) -> None:
    embedded = api.ok("GET", f"lead/{lead['id']}/")["tasks"]
    assert {task["text"] or task["_type"] for task in embedded} == {
        "past",
        "today",
        "soon",
        "outgoing_call",
    }


@pytest.mark.parametrize(("view", "expected"), [("", 2), ("INBOX", 1), (" archive ", 1)])
def test_it_reads_view_as_declared_in_the_list_spec(
    api: Api, board: dict[str, dict[str, Any]], view: str, expected: int
) -> None:
    params = {"view": view, "id__in": f"{board['past']['id']},{board['done']['id']}"}
    assert len(api.ok("GET", "task/", params=params)["data"]) == expected


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"is_complete": "yes"}, "is_complete"),
        ({"_params": "id__in=x", "is_complete": True}, "_params"),
    ],
)
def test_bulk_update_checks_its_declared_body_first(
    api: Api, board: dict[str, dict[str, Any]], body: dict[str, Any], key: str
) -> None:
    response = api.put("task/", body, params={"id__in": "task_unknown"})
    assert response.status_code == 400
    assert key in response.json()["field-errors"]
