"""Drives the official ``closeio`` client (2.1) against crmapi; runs in the client's own venv.

Usage: python closeio_driver.py SCENARIO BASE_URL API_KEY [ARG]   (prints one JSON document)

Only the base URL differs from talking to Close: ``API(base_url, api_key)``. The read
patterns are those of Close's public example scripts (re-implemented here, not copied):
``_skip += len(data)`` while ``has_more``, per-day naive ``date_created`` windows, date-only
windows, ``_fields``. Nothing here talks to anything but 127.0.0.1.
"""

import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from closeio_api import API, APIError, ValidationError


def connect(base: str, key: str, **kw: Any) -> API:
    if not base.startswith("http://127.0.0.1:"):
        raise SystemExit(f"refusing to talk to {base!r}: only a local crmapi is allowed")
    return API(base, api_key=key, **kw)


def get_all(api: API, endpoint: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The loop every Close script uses: ``_skip += len(data)`` while ``has_more``."""
    params = dict(params or {})
    items: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = api.get(endpoint, params={**params, "_skip": skip})
        items.extend(page["data"])
        skip += len(page["data"])
        if not page["has_more"]:
            return items


def iso(moment: datetime) -> str:
    return moment.isoformat()


def brief(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: obj.get(k) for k in ("id", "_type", "lead_id", "date_created", "note", "text")}


# --- seed ---------------------------------------------------------------------------------


def seed(api: API) -> dict[str, Any]:
    """Write every type crmapi accepts through the client; return what was written."""
    now = datetime.now(UTC)
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
    leads = {
        name: api.post(
            "lead", {"name": f"{name} Seed Co", "contacts": [{"name": f"{name} Person"}]}
        )
        for name in ("A", "B", "C")
    }
    ids = {name: lead["id"] for name, lead in leads.items()}
    extra = api.post(
        "contact", {"lead_id": ids["C"], "name": "Carl Extra", "emails": [{"email": "c@x.example"}]}
    )
    written: list[dict[str, Any]] = []

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        obj = api.post(path, body)
        written.append(brief(obj))
        return obj

    # 105 notes on lead A, one an hour from six days ago: older than any 24 h look-back.
    start = day0 - timedelta(days=6)
    for i in range(105):
        when = start + timedelta(hours=i, microseconds=1000 * i)
        post(
            "activity/note", {"lead_id": ids["A"], "note": f"A note {i}", "date_created": iso(when)}
        )
    for hours in (3, 2, 1.5):
        when = now - timedelta(hours=hours)
        post(
            "activity/note",
            {"lead_id": ids["B"], "note": f"B note -{hours}h", "date_created": iso(when)},
        )
    post("activity/note", {"lead_id": ids["C"], "note": "C note, dated by the server"})
    calls = [
        ("A", day0 - timedelta(days=5, hours=-10), "outbound", 60),
        ("B", day0 - timedelta(days=4, hours=-11, minutes=-30), "inbound", 0),
        ("C", day0 - timedelta(days=3, hours=-9, minutes=-15), "outbound", 300),
        ("A", day0 - timedelta(days=2), "inbound", 5),
        ("B", now - timedelta(hours=1), "outbound", 42),
    ]
    for lead, when, direction, duration in calls:
        post(
            "activity/call",
            {
                "lead_id": ids[lead],
                "direction": direction,
                "duration": duration,
                "note": f"call {lead} {direction}",
                "date_created": iso(when),
            },
        )
    for lead, when in (
        ("A", day0 - timedelta(days=3, hours=-12)),
        ("B", day0 - timedelta(days=1, hours=-8)),
        ("C", now - timedelta(minutes=30)),
    ):
        post(
            "activity/sms",
            {
                "lead_id": ids[lead],
                "status": "sent",
                "direction": "outbound",
                "text": f"sms to {lead}",
                "remote_phone": "+14155550100",
                "date_created": iso(when),
            },
        )
    optional = seed_optional(api, ids, post)
    system = seed_system(api, ids)
    # Close writes a LeadStatusChange whenever a lead's status changes.
    statuses = api.get("status/lead")["data"]
    api.put(f"lead/{ids['C']}", {"status_id": statuses[1]["id"]})
    # An edit and a delete, checked through reads.
    edited = written[105]
    api.put(f"activity/note/{edited['id']}", {"note": "B note, edited"})
    edited["note"] = "B note, edited"
    doomed = api.post("activity/note", {"lead_id": ids["C"], "note": "to be deleted"})
    api.delete(f"activity/note/{doomed['id']}")
    return {
        "leads": ids,
        "contacts": [c["id"] for lead in leads.values() for c in lead["contacts"]] + [extra["id"]],
        "written": written,
        "optional": optional,
        "system": system,
        "deleted": doomed["id"],
        "edited": edited["id"],
        "now": iso(now),
    }


def seed_optional(api: API, ids: dict[str, str], post: Any) -> list[str]:
    """Types whose writes arrive with other features: written when the server accepts them."""
    accepted = []

    def attempt(path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            obj = post(path, body)
        except APIError as exc:
            if exc.response.status_code not in (404, 405):
                raise
            return None
        accepted.append(path)
        return obj  # type: ignore[no-any-return]

    attempt(
        "activity/email",
        {
            "lead_id": ids["A"],
            "status": "draft",
            "subject": "Seed",
            "body_text": "Hi",
            "to": ["a@x.example"],
        },
    )
    attempt("activity/meeting", {"lead_id": ids["B"], "title": "Seed meeting"})
    statuses = api.get("status/lead")["data"]
    # History import: logs a LeadStatusChange without changing the lead.
    attempt(
        "activity/status_change/lead",
        {
            "lead_id": ids["A"],
            "old_status_id": statuses[0]["id"],
            "new_status_id": statuses[-1]["id"],
            "date_created": iso(datetime.now(UTC) - timedelta(days=4, hours=2)),
        },
    )
    try:
        kind = api.post("custom_activity", {"name": "Demo booked"})
    except APIError as exc:
        if exc.response.status_code not in (404, 405):
            raise
    else:
        attempt("activity/custom", {"lead_id": ids["B"], "custom_activity_type_id": kind["id"]})
    return accepted


def seed_system(api: API, ids: dict[str, str]) -> list[str]:
    """Writes after which Close logs an activity itself: an opportunity moved to another
    status (OpportunityStatusChange), a task completed (TaskCompleted)."""
    done = []
    try:
        statuses = api.get("status/opportunity")["data"]
        opportunity = api.post(
            "opportunity", {"lead_id": ids["A"], "status_id": statuses[0]["id"], "value": 1000}
        )
        api.put(f"opportunity/{opportunity['id']}", {"status_id": statuses[-1]["id"]})
        done.append("OpportunityStatusChange")
    except APIError as exc:
        if exc.response.status_code not in (404, 405):
            raise
    try:
        task = api.post("task", {"lead_id": ids["B"], "text": "Call back"})
        api.put(f"task/{task['id']}", {"is_complete": True})
        done.append("TaskCompleted")
    except APIError as exc:
        if exc.response.status_code not in (404, 405):
            raise
    return done


# --- reads --------------------------------------------------------------------------------


def reads(api: API, manifest: dict[str, Any]) -> dict[str, Any]:
    leads = manifest["leads"]
    out: dict[str, Any] = {}
    out["feed_org"] = [brief(a) for a in get_all(api, "activity", {"_limit": 100})]
    out["feed_by_lead"] = {
        name: [brief(a) for a in get_all(api, "activity", {"lead_id": lead})]
        for name, lead in leads.items()
    }
    out["feed_notes_a"] = [
        a["id"] for a in get_all(api, "activity", {"lead_id": leads["A"], "_type": "Note"})
    ]
    out["feed_fields"] = get_all(
        api,
        "activity",
        {
            "lead_id": leads["B"],
            "_fields": "_type,id,date_created,lead_id,direction,user_id,duration",
        },
    )
    typed = {}
    for path in (
        "note",
        "call",
        "sms",
        "email",
        "emailthread",
        "meeting",
        "created",
        "task_completed",
        "status_change/lead",
        "status_change/opportunity",
        "custom",
    ):
        typed[path] = [brief(a) for a in get_all(api, f"activity/{path}")]
    out["typed"] = typed
    out["notes_a_pages"] = pages(api, "activity/note", {"lead_id": leads["A"]})
    out["notes_a_by_lead"] = [
        a["id"] for a in get_all(api, "activity/note", {"lead_id": leads["A"]})
    ]
    out["one_note"] = api.get(f"activity/note/{manifest['edited']}")
    try:
        api.get(f"activity/note/{manifest['deleted']}")
        out["deleted_status"] = 200
    except APIError as exc:
        out["deleted_status"] = exc.response.status_code
        out["deleted_body"] = exc.response.json()
    out["windows"] = windows(api, manifest)
    return out


def pages(api: API, endpoint: str, params: dict[str, Any]) -> list[int]:
    sizes, skip = [], 0
    while True:
        page = api.get(endpoint, params={**params, "_skip": skip})
        sizes.append(len(page["data"]))
        skip += len(page["data"])
        if not page["has_more"]:
            return sizes


def windows(api: API, manifest: dict[str, Any]) -> dict[str, Any]:
    """Per-day naive windows (export scripts) and date-only windows (export_calls)."""
    now = datetime.fromisoformat(manifest["now"])
    days = [(now - timedelta(days=n)).date() for n in range(8, -2, -1)]
    per_day_notes = {}
    for day in days:
        found = get_all(
            api,
            "activity/note",
            {
                "date_created__gte": f"{day}T00:00:00",
                "date_created__lte": f"{day}T23:59:59",
            },
        )
        per_day_notes[str(day)] = [a["id"] for a in found]
    calls_date_only = {}
    for day in days:
        found = get_all(
            api,
            "activity/call",
            {
                "date_created__gte": str(day),
                "date_created__lt": str(day + timedelta(days=1)),
                "_fields": "id,recording_url,voicemail_url,date_created,lead_id,duration,"
                "voicemail_duration",
            },
        )
        calls_date_only[str(day)] = found
    return {"notes_per_day": per_day_notes, "calls_per_day": calls_date_only}


# --- errors, shapes, leniency -------------------------------------------------------------


def errors(api: API, lead_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cases = {
        "note_without_lead": ("activity/note", {"note": "orphan"}),
        "call_bad_direction": ("activity/call", {"lead_id": lead_id, "direction": "sideways"}),
        "sms_unknown_lead": ("activity/sms", {"lead_id": "lead_nope", "status": "sent"}),
    }
    for name, (path, body) in cases.items():
        try:
            api.post(path, body)
            out[name] = {"raised": None}
        except ValidationError as exc:
            out[name] = {
                "raised": "ValidationError",
                "errors": exc.errors,
                "field_errors": exc.field_errors,
            }
    try:
        api.get("activity/note/acti_doesnotexist")
    except APIError as exc:
        out["missing"] = {"status": exc.response.status_code, "body": exc.response.json()}
    return out


def shapes(api: API, lead_id: str) -> dict[str, Any]:
    me = api.get("me")
    org_id = me["organizations"][0]["id"]
    params = {"lead_id": lead_id, "_fields": "id,_type", "_limit": 5}
    return {
        "me": me,
        "organization": api.get(f"organization/{org_id}"),
        "lead_statuses": api.get("status/lead"),
        "opportunity_statuses": api.get("status/opportunity"),
        # README style: a GET with the params as a JSON body, no query string.
        "json_body_get": api.get("activity", data=params),
        "query_get": api.get("activity", params=params),
        # A leading slash in the endpoint gives .../api/v1//activity/note/.
        "double_slash": api.get("/activity/note", params={"lead_id": lead_id, "_limit": 1}),
    }


READ_ONLY_NOISE = {"organization_id", "id", "_type", "date_updated", "created_by", "updated_by"}


def repost(api: API) -> dict[str, Any]:
    """Export objects, then POST them back whole to another lead (import/restore scripts)."""
    source = api.post("lead", {"name": "Export Source"})["id"]
    target = api.post("lead", {"name": "Import Target"})["id"]
    originals = [
        api.post(
            "activity/note",
            {
                "lead_id": source,
                "note": "exported note",
                "date_created": "2024-03-01T10:00:00+00:00",
            },
        ),
        api.post(
            "activity/call",
            {"lead_id": source, "direction": "inbound", "duration": 33, "note": "exported call"},
        ),
        api.post(
            "activity/sms",
            {
                "lead_id": source,
                "status": "sent",
                "direction": "outbound",
                "text": "exported sms",
                "remote_phone": "+14155550100",
            },
        ),
    ]
    paths = {"Note": "activity/note", "Call": "activity/call", "SMS": "activity/sms"}
    pairs = []
    for original in originals:
        exported = api.get(f"{paths[original['_type']]}/{original['id']}")
        body = {**exported, "lead_id": target}
        copy = api.post(paths[original["_type"]], body)
        pairs.append({"exported": exported, "copy": copy})
    lead = api.get(f"lead/{source}")
    lead_copy = api.post("lead", {**lead, "name": "Export Source (copy)"})
    return {"pairs": pairs, "target": target, "lead": lead, "lead_copy": lead_copy}


def burst(api: API, threads: int, per_thread: int) -> dict[str, Any]:
    """Many writes at once under a low limit: the client must back off and lose none."""
    lead_id = api.post("lead", {"name": "Burst Co"})["id"]
    seen: list[int] = []
    send = api.session.send

    def counting_send(*a: Any, **kw: Any) -> Any:  # observe statuses; behaviour unchanged
        response = send(*a, **kw)
        seen.append(response.status_code)
        return response

    api.session.send = counting_send  # type: ignore[method-assign]
    created: list[str] = []
    failures: list[str] = []

    def work(t: int) -> None:
        for i in range(per_thread):
            try:
                created.append(
                    api.post("activity/note", {"lead_id": lead_id, "note": f"burst {t}-{i}"})["id"]
                )
            except APIError as exc:  # pragma: no cover - reported to the test
                failures.append(f"{exc.response.status_code} {exc.response.text[:200]}")

    started = time.monotonic()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    listed = [a["id"] for a in get_all(api, "activity/note", {"lead_id": lead_id})]
    return {
        "created": created,
        "failures": failures,
        "listed": listed,
        "statuses": seen,
        "elapsed": elapsed,
    }


def retry(api: API) -> dict[str, Any]:
    """One create under injected 429s: the client must sleep on rate_reset and retry."""
    seen: list[int] = []
    send = api.session.send

    def counting_send(*a: Any, **kw: Any) -> Any:  # observe statuses; behaviour unchanged
        response = send(*a, **kw)
        seen.append(response.status_code)
        return response

    api.session.send = counting_send  # type: ignore[method-assign]
    started = time.monotonic()
    lead = api.post("lead", {"name": "Retry Co"})
    return {"lead_id": lead["id"], "statuses": seen, "elapsed": time.monotonic() - started}


def main() -> None:
    scenario, base, key, *rest = sys.argv[1:]
    api = connect(base, key)
    if scenario == "seed":
        result = seed(api)
    elif scenario == "reads":
        with open(rest[0]) as f:
            result = reads(api, json.load(f))
    elif scenario == "errors":
        result = errors(api, rest[0])
    elif scenario == "shapes":
        result = shapes(api, rest[0])
    elif scenario == "repost":
        result = repost(api)
    elif scenario == "retry":
        result = retry(api)
    elif scenario == "burst":
        result = burst(api, int(rest[0]), int(rest[1]))
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
