"""Close's lead search language on ``GET /lead/?query=``, as data: query -> the leads it finds.

One fixed world of leads per backend (SQLite file and PostgreSQL), built through the API and
then given fixed dates, so relative and absolute date clauses have known answers.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from crmapi.app import create_app
from crmapi.resources import accounts
from crmapi.settings import Settings
from crmapi.storage import tables as t
from crmapi.util import dates
from tests.conftest import BACKENDS, Api, _truncate, case_id, make_org

# name -> (date_created, date_updated); the dates the clauses below are about.
DATES = {
    "acme": ("2024-01-10T09:00:00.000000+00:00", "2024-02-01T00:00:30.000000+00:00"),
    "globex": ("2024-01-20T00:00:00.000000+00:00", "2024-03-03T10:00:06.123456+00:00"),
    "initech": ("2024-02-05T00:00:00.000000+00:00", "2024-03-03T10:00:06.123455+00:00"),
    "umbrella": ("2023-10-08T12:00:00.000000+00:00", "2023-10-09T23:59:59.000000+00:00"),
    "untitled": ("2024-03-01T00:00:00.000000+00:00", "2024-03-10T00:00:00.000000+00:00"),
    "wayne": ("2024-02-10T00:00:00.000000+00:00", "2024-01-31T23:59:59.999999+00:00"),
}
ALL = set(DATES)


class World:
    def __init__(self, app: Any, api: Api, ids: dict[str, str]) -> None:
        self.app = app
        self.api = api
        self.ids = ids
        self.names = {v: k for k, v in ids.items()}

    def search(self, query: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        params = {"query": query, "_fields": "id", **params}
        return self.api.get("lead/", params=params, headers=headers or {})

    def found(self, query: str, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
        response = self.search(query, headers, _limit=200, **params)
        assert response.status_code == 200, (query, response.text)
        body = response.json()
        names = [self.names[item["id"]] for item in body["data"]]
        assert body["total_results"] == len(names), query
        return names


def _build(api: Api, app: Any) -> dict[str, str]:
    for name, kind in (
        ("Source CRM", "text"),
        ("Employees", "number"),
        ("Migration completed", "text"),
        ("Renewal", "date"),
    ):
        api.ok("POST", "custom_field/lead/", {"name": name, "type": kind})
    fields = {f["name"]: f["id"] for f in api.ok("GET", "custom_field/lead/")["data"]}
    with app.state.db.write() as conn:
        justin = accounts.add_user(conn, api.org_id, "justin@acme.example", "Justin", "Case")
    statuses = {s["label"]: s["id"] for s in api.ok("GET", "status/lead/")["data"]}
    won = next(s["id"] for s in api.ok("GET", "status/opportunity/")["data"] if s["type"] == "won")

    def lead(body: dict[str, Any]) -> str:
        return str(api.ok("POST", "lead/", body)["id"])

    ids = {
        "acme": lead(
            {
                "name": "Acme Inc",
                "status": "Potential",
                "contacts": [
                    {
                        "name": "Bruce Banner",
                        "title": "CEO",
                        "emails": [{"email": "Bruce@Acme.example", "type": "office"}],
                        "phones": [{"phone": "+14155551234", "type": "office"}],
                    }
                ],
                f"custom.{fields['Source CRM']}": "Salesforce",
                f"custom.{fields['Employees']}": 50,
                f"custom.{fields['Renewal']}": "2024-06-30",
            }
        ),
        "globex": lead(
            {
                "name": "Globex Corporation",
                "status_id": statuses["Qualified"],
                "url": "https://globex.example",
                "contacts": [
                    {
                        "name": "Hank Scorpio",
                        "emails": [
                            {"email": "hank@globex.example"},
                            {"email": "a+b@globex.example"},
                        ],
                    },
                    {"name": "Homer", "phones": [{"phone": "+442071234567"}]},
                ],
                f"custom.{fields['Employees']}": 500,
                f"custom.{fields['Source CRM']}": "HubSpot",
                f"custom.{fields['Migration completed']}": "yes",
            }
        ),
        "initech": lead(
            {
                "name": "Initech",
                "description": "Printer sales, TPS reports",
                "addresses": [
                    {"city": "New York", "country": "US"},
                    {"city": "Austin", "country": "US"},
                ],
            }
        ),
        "umbrella": lead(
            {
                "name": "Umbrella Corp",
                "status": "Bad Fit",
                "description": "An Acme reseller",
                "contacts": [
                    {
                        "name": "Alice",
                        "title": "CTO",
                        "emails": [{"email": "alice@umbrella.example"}],
                    }
                ],
            }
        ),
        "untitled": lead({}),
        "wayne": lead(
            {
                "name": "Wayne Enterprises",
                "contacts": [
                    {"name": "Bruce Wayne", "emails": [{"email": "bruce@wayneenterprises.com"}]}
                ],
            }
        ),
    }
    api.ok("POST", "opportunity/", {"lead_id": ids["acme"], "value": 10000, "confidence": 50})
    api.ok(
        "POST",
        "opportunity/",
        {"lead_id": ids["globex"], "status_id": won, "user_id": justin["user_id"]},
    )
    for _ in range(2):
        api.ok(
            "POST",
            "activity/call/",
            {"lead_id": ids["acme"], "direction": "outbound", "duration": 60},
        )
    api.ok("POST", "activity/note/", {"lead_id": ids["globex"], "note": "hello"})
    api.ok("POST", "task/", {"lead_id": ids["initech"], "text": "Call back"})
    with app.state.db.write() as conn:
        # Fixed dates: the children first (calls in January), then the leads themselves.
        conn.execute(
            update(t.activity)
            .where(t.activity.c.organization_id == api.org_id, t.activity.c.type == "Call")
            .values(date_created="2024-01-15T12:00:00.000000+00:00")
        )
        conn.execute(
            update(t.lead)
            .where(t.lead.c.organization_id == api.org_id, t.lead.c.id == ids["untitled"])
            .values(created_by=justin["user_id"])
        )
        for name, (created, updated) in DATES.items():
            conn.execute(
                update(t.lead)
                .where(t.lead.c.organization_id == api.org_id, t.lead.c.id == ids[name])
                .values(date_created=created, date_updated=updated)
            )
    return ids


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[World]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("search") / "crmapi.db"
        shutil.copy(_sqlite_template, path)
        url = f"sqlite:///{path}"
    else:
        found = request.getfixturevalue("_pg_migrated")
        if found is None:
            if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
                pytest.fail("PostgreSQL is required (CRMAPI_REQUIRE_POSTGRES=1)")
            pytest.skip("PostgreSQL not available")
        url = str(found)
        _truncate(url)
    settings = Settings(database_url=url, auth_cache_seconds=0, background_workers=False)
    app = create_app(settings, migrate_schema=False)
    with TestClient(app, base_url="http://testserver") as client:
        api = make_org(app, client)
        other = make_org(app, client, "Globex", "owner@globex.example")
        # Another organization's lookalike is never found (tenancy).
        other.ok(
            "POST",
            "lead/",
            {"name": "Acme Inc", "contacts": [{"emails": [{"email": "bruce@acme.example"}]}]},
        )
        yield World(app, api, _build(api, app))
    app.state.db.dispose()


# (query, expected leads): a set when order does not matter, a list when it does.
CASES: list[tuple[str, set[str] | list[str]]] = [
    # --- exactly what real clients send (more.md §1.4) ---
    (
        'date_updated>="2024-02-01T00:00" sort:date_updated',
        ["acme", "initech", "globex", "untitled"],
    ),
    ("sort:updated date_updated >= 2024-03-03T10:00:06.123456+00:00", ["globex", "untitled"]),
    ("sort:updated date_updated >= 2024-01-01", ["wayne", "acme", "initech", "globex", "untitled"]),
    ("date_updated >= 2023-10-08 date_updated <= 2023-10-09", {"umbrella"}),
    ("date_created > 2024-01-01T00:00:00", ALL - {"umbrella"}),
    ('email_address:"bruce@acme.example"', {"acme"}),
    ("email_address:BRUCE@acme.example sort:created", ["acme"]),
    ("email:hank@globex.example", {"globex"}),
    ('email:"a+b@globex.example"', {"globex"}),
    ('name:"Bruce Wayne" email_address:bruce@wayneenterprises.com', set()),
    ('contact_name:"Bruce Wayne" email_address:bruce@wayneenterprises.com', {"wayne"}),
    ('name:"Wayne Enterprises"', {"wayne"}),
    ('company:"Acme"', {"acme"}),
    ("company: Acme", {"acme"}),
    ('custom.Employees:500 status:"Qualified" sort:updated', ["globex"]),
    ('"custom.Source CRM":* not "custom.Migration completed":* sort:created', ["acme"]),
    ('"custom.Source CRM":Salesforce', {"acme"}),
    ('"Source CRM":hubspot', {"globex"}),
    ("sort:created", ["umbrella", "acme", "globex", "initech", "wayne", "untitled"]),
    ("* sort:created", ["umbrella", "acme", "globex", "initech", "wayne", "untitled"]),
    ("sort:created contacts > 1", ["globex"]),
    ("addresses > 1 sort:activities", ["initech"]),
    ("has:calls", {"acme"}),
    ('call( date >= "2024-01-01" date < "2024-02-01")', {"acme"}),
    ('call( date >= "2024-02-01")', set()),
    ('id:"%acme%" OR id:"%globex%"', {"acme", "globex"}),
    # --- keywords ---
    ("status:potential", {"acme", "initech", "untitled", "wayne"}),
    ("lead_status:bad_fit", {"umbrella"}),
    ('lead_status:"Bad Fit"', {"umbrella"}),
    ("status:nonexistent", set()),
    ("url:globex", {"globex"}),
    ("description:tps", {"initech"}),
    ('city:"new york"', {"initech"}),
    ("phone:415", {"acme"}),
    ('phone:"+1 415-555-1234"', {"acme"}),
    ("phone:+442071234567", {"globex"}),
    ("title:cto", {"umbrella"}),
    ("created_by:justin", {"untitled"}),
    ('created_by:"Justin Case"', {"untitled"}),
    ("opportunity:won", {"globex"}),
    ("opportunity:active", {"acme"}),
    ("opportunity_user:justin@acme.example", {"globex"}),
    ("opportunities = 0", ALL - {"acme", "globex"}),
    ("num_contacts >= 1", {"acme", "globex", "umbrella", "wayne"}),
    ("calls = 0", ALL - {"acme"}),
    ("called > 0", {"acme"}),
    ("notes > 0", {"globex"}),
    ("tasks > 0", {"initech"}),
    ("has:tasks", {"initech"}),
    ("has:opportunities", {"acme", "globex"}),
    ("has:addresses", {"initech"}),
    ("last_call < 2024-01-16", {"acme"}),
    ("last_call > 2024-01-16", set()),
    ("custom.Employees > 100", {"globex"}),
    ("custom.Employees <= 50", {"acme"}),
    ("custom.Renewal >= 2024-06-30", {"acme"}),
    ("custom.Renewal < 2024-06-30", set()),
    ("custom.Employees:*", {"acme", "globex"}),
    ("created:2024-01-10", {"acme"}),
    ("created = 2024-01-10", {"acme"}),
    ("created < 2024-01-10", {"umbrella"}),
    ("created <= 2024-01-10", {"umbrella", "acme"}),
    ("created > 2024-03-01", set()),
    ("created >= 2024-03-01", {"untitled"}),
    ('date_updated <= "2024-01-31"', {"umbrella", "wayne"}),
    ("date_updated > 2024-03-03T10:00:06.123455+00:00", {"globex", "untitled"}),
    ("date_updated < 2024-03-03T10:00:06", {"umbrella", "wayne", "acme"}),
    ("date_updated <= 2024-03-03T10:00:06", {"umbrella", "wayne", "acme", "initech", "globex"}),
    ("created <= 30 days ago", ALL),
    ("created > 30 days ago", set()),
    ("created > 999999 years ago", ALL),  # before the calendar: every lead
    ("created:9999-12-31", set()),
    ("updated:today", set()),
    ("created >= yesterday", set()),
    ("contact(name:bruce)", {"acme", "wayne"}),
    ("contact(title:ceo or title:cto)", {"acme", "umbrella"}),
    ("contact(email:*)", {"acme", "globex", "umbrella", "wayne"}),
    ("opportunity(status_type:won)", {"globex"}),
    ("opportunity(value >= 10000)", {"acme"}),
    ("opportunity(user:justin)", {"globex"}),
    ("not contact()", {"initech", "untitled"}),
    # a bare word inside a group searches that object's own text, not the lead's
    ("contact(bruce)", {"acme", "wayne"}),
    ("contact(cto)", {"umbrella"}),
    ("contact(acme)", {"acme"}),  # Bruce@Acme.example
    ("contact(inc)", set()),  # "Acme Inc" is a lead name, no contact's
    ("contact(2071234567)", {"globex"}),
    ("task(call)", {"initech"}),
    ("note(hello)", {"globex"}),
    ("activity(hello)", {"globex"}),
    ("contact( name )", set()),
    # --- full text, boolean operators, precedence, quoting ---
    ("acme", {"acme", "umbrella"}),
    ("ACME", {"acme", "umbrella"}),
    ('"acme reseller"', {"umbrella"}),
    ("bruce", {"acme", "wayne"}),
    ("hank@globex", {"globex"}),
    ("acme corp", {"umbrella"}),
    ("acme and corp", {"umbrella"}),
    ("acme AND corp", {"umbrella"}),
    ("acme or initech", {"acme", "umbrella", "initech"}),
    ("acme OR initech", {"acme", "umbrella", "initech"}),
    ("initech or acme corp", {"initech", "umbrella"}),
    ("(initech or acme) corp", {"umbrella"}),
    ("not acme", ALL - {"acme", "umbrella"}),
    ("NOT acme", ALL - {"acme", "umbrella"}),
    ("-acme", ALL - {"acme", "umbrella"}),
    ("not acme or initech", ALL - {"acme", "umbrella"}),
    ("not (acme or initech)", ALL - {"acme", "umbrella", "initech"}),
    ("not not acme", {"acme", "umbrella"}),
    ("name:acme not description:reseller", {"acme"}),
    ("not name:acme", ALL - {"acme"}),  # a lead without a name is "not acme" too
    ("created_by : justin", {"untitled"}),
    ("created_by :justin", {"untitled"}),
    ('name:"Acme Inc"', {"acme"}),
    ('name:"acme inc"', {"acme"}),
    ("name:'Acme'", set()),  # single quotes are ordinary characters
    ('"Printer sales, TPS"', {"initech"}),
    ('description:"sales, TPS reports"', {"initech"}),
    ('"custom.Source CRM":"Salesforce"', {"acme"}),
    ("*", ALL),
    ("", ALL),
    ("   ", ALL),
    ("sort:-created", ["untitled", "wayne", "initech", "globex", "acme", "umbrella"]),
    ("sort:name", ["untitled", "acme", "globex", "initech", "umbrella", "wayne"]),
    ("sort:-display_name", ["wayne", "umbrella", "initech", "globex", "acme", "untitled"]),
    ("sort:-contacts,created", ["globex", "umbrella", "acme", "wayne", "initech", "untitled"]),
    (
        "sort:-opportunities,date_created",
        ["acme", "globex", "umbrella", "initech", "wayne", "untitled"],
    ),
    ("(status:potential) sort:created slice:1/1", ["acme", "initech", "wayne", "untitled"]),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] or "<empty>" for c in CASES])
def test_it_finds_exactly_these_leads(
    world: World, query: str, expected: set[str] | list[str]
) -> None:
    query = query.replace("%acme%", world.ids["acme"]).replace("%globex%", world.ids["globex"])
    found = world.found(query)
    if isinstance(expected, list):
        assert found == expected
    else:
        assert len(found) == len(set(found))
        assert set(found) == expected


# (query, where the message points): syntax errors are Close's 400 with a pointed message.
ERRORS = [
    ('name:"Acme', "unterminated quoted string", 6),
    ("(acme", "unbalanced '('", 1),
    ("acme)", "unexpected ')'", 5),
    ("contact(name:x", "unbalanced '('", 8),
    ("name:", "':' needs a value", 5),
    ("date_updated >=", "'>=' needs a value", 14),
    (":acme", "':' needs a field name", 1),
    ("acme or", "'or' needs a clause", 6),
    ("or acme", "'or' needs a clause", 1),
    ("acme and", "'and' needs a clause", 6),
    ("not", "'not' needs a clause", 1),
    ("frobnicate:1", "unknown keyword 'frobnicate'", 1),
    ('k:"v" AND k2:"v2"', "unknown keyword 'k'", 1),
    ("custom.Nope:1", "no lead custom field 'Nope'", 1),
    ("created > someday", "is not a date", 11),
    ("created > 3 fortnights ago", "unknown time unit", 11),
    ("contacts > many", "num_contacts needs a number", 12),
    ("name > 3", "name cannot be compared", 8),
    ("contacts > nan", "num_contacts needs a number", 12),
    ("custom.Employees > inf", "needs a number", 20),
    ("status:x or sort:created", None, None),
    ("not sort:created", "sort: applies to the whole search", 5),
    ("sort:colour", "cannot sort by 'colour'", 6),
    ("slice:0/3", "i must be 1..n", 7),
    ("slice:4/3", "i must be 1..n", 7),
    ("slice:a/b", "slice: takes i/n", 7),
    ("slice:1/2 slice:2/2", "slice: given twice", 17),
    ("in:save_abc", "smart view 'save_abc' does not exist", 4),
    ("email_opened:yes", "not tracked", 1),
    ("sequence_subscription(sequence:*)", "sequence subscription is not supported yet", 1),
    ("frob(x)", "unknown group 'frob'(...)", 1),
    ("has:unicorns", "has: takes one of", 5),
    ("opportunity:maybe", "status_type is one of", 13),
    ("contact(contact(name:x))", "unknown group 'contact'(...)", 9),
]


@pytest.mark.parametrize(("query", "message", "position"), ERRORS, ids=[e[0] for e in ERRORS])
def test_it_answers_a_pointed_400_for_a_bad_query(
    world: World, query: str, message: str | None, position: int | None
) -> None:
    response = world.search(query)
    if message is None:  # sort: under an or still applies to the whole search
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"errors", "field-errors"}
    text = body["field-errors"]["query"]
    assert body["errors"] == [text]
    assert text.startswith("Invalid query: ")
    assert message in text
    assert f"at position {position}" in text


def test_it_counts_every_match_with_limit_zero(world: World) -> None:
    body = world.search("status:potential", _limit=0).json()
    assert body == {"data": [], "has_more": True, "total_results": 4}


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 7])
def test_slices_partition_the_leads(world: World, parts: int) -> None:
    for base in ("sort:created", "", "not name:umbrella sort:-updated"):
        whole = world.found(base)
        pieces = [world.found(f"{base} slice:{i}/{parts}") for i in range(1, parts + 1)]
        flat = [name for piece in pieces for name in piece]
        assert len(flat) == len(set(flat)), (base, pieces)  # no lead twice
        assert set(flat) == set(whole), (base, pieces)  # none missing
        if base.startswith("sort:"):
            assert flat == whole  # each slice is a run of the sorted result
        assert max(map(len, pieces)) - min(map(len, pieces)) <= 1  # balanced


def test_slices_page_with_skip_and_limit(world: World) -> None:
    first = world.search("sort:created slice:2/3", _limit=1).json()
    second = world.search("sort:created slice:2/3", _limit=1, _skip=1).json()
    assert (first["total_results"], first["has_more"], second["has_more"]) == (2, True, False)
    assert [world.names[i["id"]] for i in first["data"] + second["data"]] == ["globex", "initech"]


def test_sort_takes_precedence_over_order_by_and_other_filters_still_apply(world: World) -> None:
    found = world.found("sort:created", _order_by="-date_created", status_id__in="x")
    assert found == []
    assert world.found("status:potential", _order_by="-date_created") == [
        "untitled",
        "wayne",
        "initech",
        "acme",
    ]
    assert world.found("status:potential", _order_by="date_updated") == [
        "wayne",
        "acme",
        "initech",
        "untitled",
    ]


def test_it_reads_relative_dates_in_the_callers_zone(world: World) -> None:
    # The untitled lead was created 2024-03-01T00:00 UTC: 2024-02-29 in UTC-1.
    assert world.found("created:2024-02-29", headers={"X-TZ-Offset": "-1"}) == ["untitled"]
    assert world.found("created:2024-02-29") == []


def test_a_query_arrives_through_method_override(world: World) -> None:
    response = world.api.request(
        "POST",
        "lead/",
        headers={"x-http-method-override": "GET"},
        json={"_params": {"query": "email_address:hank@globex.example", "_fields": "id"}},
    )
    assert response.status_code == 200, response.text
    assert [world.names[i["id"]] for i in response.json()["data"]] == ["globex"]


def test_an_unencoded_plus_in_an_airbyte_datetime_still_reads(world: World) -> None:
    # "+" sent raw arrives as a space; the offset is put back.
    response = world.api.client.get(
        "/api/v1/lead/?_fields=id&query=sort:updated%20date_updated%20>=%202024-03-03T10:00:06.123456+00:00",
        auth=(world.api.key, ""),
    )
    assert response.status_code == 200, response.text
    names = [world.names[i["id"]] for i in response.json()["data"]]
    assert names == ["globex", "untitled"]


def test_relative_moments_are_resolved_when_the_query_runs() -> None:
    from crmapi.search import moments
    from crmapi.search.tree import Ago, DayStart

    now = "2024-03-10T05:00:00.000000+00:00"
    assert moments.resolve(Ago(2, "days"), now, 0) == "2024-03-08T05:00:00.000000+00:00"
    assert moments.resolve(DayStart(0), now, 0) == "2024-03-10T00:00:00.000000+00:00"
    assert moments.resolve(DayStart(-1), now, -6) == "2024-03-08T06:00:00.000000+00:00"
    assert dates.parse("2024-03-10") == "2024-03-10T00:00:00.000000+00:00"


def _engine_ids(world: World, search: Any) -> list[str]:
    """Run a tree (not text) through the compiler, as a stored smart view would be."""
    from sqlalchemy import and_, select

    from crmapi.search.compile import Compiler
    from crmapi.search.tree import FieldRef, SortKey

    lead = t.lead
    db = world.app.state.db
    with db.read() as conn:
        compiler = Compiler(conn.dialect.name, dates.now())
        keys = search.sort or (SortKey(FieldRef("lead", "date_created"), False),)
        rows = conn.execute(
            select(lead.c.id)
            .where(
                and_(
                    lead.c.organization_id == world.api.org_id,
                    compiler.where(search.query, "lead", lead),
                )
            )
            .order_by(*compiler.order(keys, lead))
        ).all()
    return [world.names[r.id] for r in rows]


@pytest.mark.parametrize("query", [q for q, _ in CASES], ids=[q or "<empty>" for q, _ in CASES])
def test_a_stored_tree_finds_what_its_text_found(world: World, query: str) -> None:
    """The smart-view hook: a tree saved as Advanced Filtering JSON and loaded again is the
    same tree, and the engine finds the same leads with it."""
    import orjson

    from crmapi.search import parser, stored
    from crmapi.search.env import Env

    query = query.replace("%acme%", world.ids["acme"]).replace("%globex%", world.ids["globex"])
    with world.app.state.db.read() as conn:
        search = parser.parse(query, Env(conn, world.api.org_id, world.api.user_id))
    saved = orjson.loads(orjson.dumps(stored.dump(search)))
    loaded = stored.load(saved)
    assert loaded == search
    assert _engine_ids(world, loaded) == _engine_ids(world, search)
    if search.slice is None:
        assert sorted(_engine_ids(world, loaded)) == sorted(world.found(query))


def _stored(node: Any) -> dict[str, Any]:
    return {
        "query": {"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}, node]}
    }


STORED_ERRORS: list[Any] = [
    {},
    _stored(
        {
            "type": "field_condition",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "colour"},
            "condition": {"type": "exists"},
        }
    ),
    _stored(
        {
            "type": "has_related",
            "this_object_type": "contact",
            "related_object_type": "lead",
            "related_query": {"type": "match_all"},
        }
    ),
    _stored(
        {
            "type": "has_related",
            "this_object_type": "lead",
            "related_object_type": "unicorn",
            "related_query": {"type": "match_all"},
        }
    ),
    _stored(
        {
            "type": "field_condition",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "date_created"},
            "condition": {
                "type": "moment_range",
                "gte": {"type": "offset", "offset": {"fortnights": 2}},
            },
        }
    ),
    {"query": {"type": "or", "queries": []}},
    {"query": {"type": "and", "queries": [{"type": "match_all"}]}},
    {
        "query": {
            "type": "and",
            "queries": [{"type": "object_type", "object_type": "lead"}, {"type": "frob"}],
        }
    },
    {
        "query": {
            "type": "and",
            "queries": [
                {"type": "object_type", "object_type": "lead"},
                {
                    "type": "field_condition",
                    "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
                    "condition": {"type": "text", "mode": "shout", "value": "x"},
                },
            ],
        }
    },
]


@pytest.mark.parametrize("data", STORED_ERRORS, ids=case_id)
def test_a_stored_tree_that_is_not_ours_is_refused(data: Any) -> None:
    from crmapi.search import stored

    with pytest.raises(stored.StoredQueryError):
        stored.load(data)


ALPHABET = ' ()":<>=-*/,.+@_\\abcnotrdsuy0123'
WORDS = [
    "not",
    "or",
    "and",
    "name",
    "sort",
    "slice",
    "contact(",
    "email",
    "created",
    "custom.",
    "1/3",
    "30 days ago",
    '"',
    "(",
    ")",
    ":",
    ">=",
    "-",
    "*",
    "has:calls",
    "x",
]


def test_no_query_text_is_a_server_error(world: World) -> None:
    """Whatever a client sends in ``query`` is a 200 or a pointed 400, never a 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    texts = st.one_of(
        st.text(alphabet=ALPHABET, max_size=40),
        st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join),
        st.lists(st.sampled_from(WORDS), max_size=10).map("".join),
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(texts)
    def check(text: str) -> None:
        response = world.search(text)
        assert response.status_code in (200, 400), (text, response.text)
        if response.status_code == 400:
            assert response.json()["errors"][0].startswith("Invalid query: ")

    check()
