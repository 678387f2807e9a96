"""The official ``closeio`` client (2.1), with only its base URL changed.

Seeded through the client itself (see closeio_driver.seed); every assertion is on exact ids.
"""

from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from tests.acceptance.conftest import Closeio
from tests.acceptance.harness import Server

SEEDED_TYPES = {"Note": 109, "Call": 5, "SMS": 3}
HIDDEN_FROM_FEED = {"EmailThread"}  # only with thread_emails


def written_ids(seeded: Any, type_: str) -> set[str]:
    return {a["id"] for a in seeded["written"] if a["_type"] == type_}


def utc_day(stamp: str) -> str:
    return str(datetime.fromisoformat(stamp).date())


def test_it_writes_every_type_through_the_client(seeded: Any) -> None:
    counts = Counter(a["_type"] for a in seeded["written"])
    assert {t: counts[t] for t in SEEDED_TYPES} == SEEDED_TYPES
    assert len({a["id"] for a in seeded["written"]}) == len(seeded["written"])
    assert all(a["id"].startswith("acti_") for a in seeded["written"])
    assert len(seeded["leads"]) == 3
    assert len(seeded["contacts"]) == 4


@pytest.mark.parametrize(("path", "type_"), [("note", "Note"), ("call", "Call"), ("sms", "SMS")])
def test_it_lists_exactly_the_written_activities_per_type(
    seeded: Any, reads: Any, path: str, type_: str
) -> None:
    listed = reads["typed"][path]
    assert {a["id"] for a in listed} == written_ids(seeded, type_)
    assert len(listed) == len(written_ids(seeded, type_))  # no duplicates across pages
    assert {a["_type"] for a in listed} == {type_}
    by_id = {a["id"]: a for a in seeded["written"]}
    for item in listed:
        assert item["lead_id"] == by_id[item["id"]]["lead_id"]
        assert item["date_created"] == by_id[item["id"]]["date_created"]


def test_it_lists_optional_types_that_were_accepted(seeded: Any, reads: Any) -> None:
    types = {
        "activity/email": "Email",
        "activity/meeting": "Meeting",
        "activity/status_change/lead": "LeadStatusChange",
        "activity/custom": "CustomActivity",
    }
    for path in seeded["optional"]:
        listed = {a["id"] for a in reads["typed"][path.removeprefix("activity/")]}
        written = written_ids(seeded, types[path])
        assert written, path
        assert written <= listed, path
        if types[path] != "LeadStatusChange":  # that one also has the system-written change
            assert listed == written, path


def test_it_records_system_activities_for_lead_writes(seeded: Any, reads: Any) -> None:
    created = reads["typed"]["created"]
    assert sorted(a["lead_id"] for a in created) == sorted(seeded["leads"].values())
    changes = reads["typed"]["status_change/lead"]
    imported = written_ids(seeded, "LeadStatusChange")
    system = [a["lead_id"] for a in changes if a["id"] not in imported]
    assert system == [seeded["leads"]["C"]]


def test_it_logs_opportunity_and_task_activities(seeded: Any, reads: Any) -> None:
    paths = {
        "OpportunityStatusChange": "status_change/opportunity",
        "TaskCompleted": "task_completed",
    }
    for type_ in seeded["system"]:
        listed = reads["typed"][paths[type_]]
        assert [a["lead_id"] for a in listed] == [seeded["leads"]["A" if "Opp" in type_ else "B"]]


def test_it_shows_every_activity_in_the_org_wide_feed(reads: Any, truth: dict[str, Any]) -> None:
    feed = reads["feed_org"]
    assert len(feed) == len({a["id"] for a in feed})
    expected = {i for i, a in truth.items() if a["_type"] not in HIDDEN_FROM_FEED}
    assert {a["id"] for a in feed} == expected
    stamps = [a["date_created"] for a in feed]
    assert stamps == sorted(stamps, reverse=True)  # newest first, as Close lists them


def test_it_filters_the_feed_by_lead_and_type(seeded: Any, reads: Any, truth: Any) -> None:
    for name, lead_id in seeded["leads"].items():
        expected = {
            i for i, a in truth.items() if a["lead_id"] == lead_id and a["_type"] != "EmailThread"
        }
        assert {a["id"] for a in reads["feed_by_lead"][name]} == expected, name
    notes_a = {a["id"] for a in seeded["written"][:105]}
    assert set(reads["feed_notes_a"]) == notes_a
    assert len(reads["feed_notes_a"]) == 105


def test_it_pages_101_plus_notes_with_skip(seeded: Any, reads: Any) -> None:
    assert reads["notes_a_pages"] == [100, 5]
    assert len(reads["notes_a_by_lead"]) == 105
    assert set(reads["notes_a_by_lead"]) == {a["id"] for a in seeded["written"][:105]}


def test_it_returns_only_the_requested_fields(seeded: Any, reads: Any) -> None:
    asked = {"_type", "id", "date_created", "lead_id", "direction", "user_id", "duration"}
    records = reads["feed_fields"]
    assert records
    for record in records:
        assert set(record) <= asked, record
        assert {"_type", "id", "date_created", "lead_id"} <= set(record)
        assert record["lead_id"] == seeded["leads"]["B"]
    calls = [r for r in records if r["_type"] == "Call"]
    assert sorted(r["duration"] for r in calls) == [0, 42]
    assert {r["direction"] for r in calls} == {"inbound", "outbound"}


def test_it_windows_notes_by_naive_day_bounds(seeded: Any, reads: Any) -> None:
    notes = [a for a in seeded["written"] if a["_type"] == "Note"]
    per_day = reads["windows"]["notes_per_day"]
    for day, ids in per_day.items():
        expected = {a["id"] for a in notes if utc_day(a["date_created"]) == day}
        assert set(ids) == expected, day
    assert sum(len(ids) for ids in per_day.values()) == len(notes)


def test_it_windows_calls_by_date_only_bounds(seeded: Any, reads: Any) -> None:
    calls = [a for a in seeded["written"] if a["_type"] == "Call"]
    per_day = reads["windows"]["calls_per_day"]
    for day, found in per_day.items():
        expected = {a["id"] for a in calls if utc_day(a["date_created"]) == day}
        assert {c["id"] for c in found} == expected, day
        for call in found:
            # bulk_download_call_recordings compares these with > 0: numbers, never null.
            assert isinstance(call["duration"], int)
            assert isinstance(call["voicemail_duration"], int)
    assert sum(len(found) for found in per_day.values()) == len(calls)


def test_it_reads_back_edits_and_forgets_deletes(seeded: Any, reads: Any) -> None:
    assert reads["one_note"]["id"] == seeded["edited"]
    assert reads["one_note"]["note"] == "B note, edited"
    assert reads["deleted_status"] == 404
    assert isinstance(reads["deleted_body"]["error"], str)


def test_it_raises_validation_errors_with_our_field_errors(
    server: Server, seed_org: Any, seeded: Any, closeio: Closeio
) -> None:
    found = closeio("errors", server.base, seed_org["api_key"], seeded["leads"]["A"])
    for name in ("note_without_lead", "call_bad_direction", "sms_unknown_lead"):
        assert found[name]["raised"] == "ValidationError", (name, found[name])
        assert found[name]["errors"] == [] or all(isinstance(e, str) for e in found[name]["errors"])
    assert set(found["note_without_lead"]["field_errors"]) == {"lead"}
    assert set(found["call_bad_direction"]["field_errors"]) == {"direction"}
    assert set(found["sms_unknown_lead"]["field_errors"]) == {"lead"}
    assert found["missing"]["status"] == 404
    assert isinstance(found["missing"]["body"]["error"], str)


def test_it_answers_the_endpoints_scripts_read_first(
    server: Server, seed_org: Any, seeded: Any, closeio: Closeio
) -> None:
    found = closeio("shapes", server.base, seed_org["api_key"], seeded["leads"]["B"])
    org = found["me"]["organizations"][0]
    assert (org["id"], org["name"]) == (seed_org["organization_id"], "Seed Org")
    assert found["organization"]["name"] == "Seed Org"
    members = found["organization"]["memberships"]
    # The Airbyte full-catalog test adds a second member to this session's seed org.
    assert seed_org["user_id"] in [m["user_id"] for m in members]
    assert all(isinstance(m["user_full_name"], str) for m in members)
    for name in ("lead_statuses", "opportunity_statuses"):
        assert isinstance(found[name]["data"], list)
        assert all({"id", "label"} <= set(s) for s in found[name]["data"])
    # A GET with a JSON body (closeio README style) means the same as the query string.
    assert found["json_body_get"] == found["query_get"]
    assert len(found["query_get"]["data"]) == 5
    assert all(set(a) == {"id", "_type"} for a in found["query_get"]["data"])
    assert len(found["double_slash"]["data"]) == 1


def test_it_accepts_exported_objects_posted_back_whole(server: Server, closeio: Closeio) -> None:
    org = server.create_org("Import Org")
    found = closeio("repost", server.base, org["api_key"])
    for pair in found["pairs"]:
        exported, copy = pair["exported"], pair["copy"]
        assert copy["id"] != exported["id"]
        assert copy["lead_id"] == found["target"]
        assert copy["_type"] == exported["_type"]
        assert copy["organization_id"] == exported["organization_id"]
        for key in ("note", "text", "direction", "duration", "status", "remote_phone"):
            assert copy.get(key) == exported.get(key), key
    note = found["pairs"][0]
    # Import scripts keep the original date: date_created is honoured on create.
    assert note["copy"]["date_created"] == note["exported"]["date_created"]
    assert found["lead_copy"]["id"] != found["lead"]["id"]
    assert found["lead_copy"]["name"] == "Export Source (copy)"
