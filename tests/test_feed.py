"""``GET /activity/``: every rule of Close's activity list page, as a table of requests."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from crmapi.activities import write
from crmapi.activities.registry import ACTIVITY_TYPES, BY_TYPE
from crmapi.domain.context import Principal
from crmapi.resources import accounts
from tests import factories
from tests.conftest import Api

Obj = dict[str, Any]


class World:
    """Two leads, two users and activities at known times, plus the whole feed as a reference."""

    def __init__(self, app: Any, api: Api) -> None:
        self.app, self.api = app, api
        with app.state.db.write() as conn:
            self.u2 = accounts.add_user(conn, api.org_id, "robin@acme.example", "Dick", "Grayson")[
                "user_id"
            ]
        self.u1 = api.user_id
        a = factories.lead(api, "A", contacts=[{"name": "Alfred"}])
        b = factories.lead(api, "B")
        self.a, self.b, self.ca = a["id"], b["id"], a["contacts"][0]["id"]
        post = self.post
        self.n1 = post("note", self.a, "2024-01-01T10:00:00", contact_id=self.ca, note="n1")
        self.c1 = post("call", self.a, "2024-01-02T10:00:00", user_id=self.u2, duration=30)
        self.s1 = post(
            "sms", self.a, "2024-01-03T10:00:00", status="sent", activity_at="2023-12-01T00:00:00"
        )
        self.n2 = post("note", self.b, "2024-01-04T10:00:00", note="n2")
        self.c2 = post("call", self.b, "2024-01-05T10:00:00", user_id=self.u2)
        self.all = api.ok("GET", "activity/")["data"]

    def post(self, kind: str, lead_id: str, when: str, **body: Any) -> str:
        created = self.api.ok(
            "POST", f"activity/{kind}/", {"lead_id": lead_id, "date_created": when, **body}
        )
        return str(created["id"])

    def system(self, type_name: str, lead_id: str, **values: Any) -> Obj:
        principal = Principal(self.api.org_id, self.api.user_id)
        with self.app.state.db.write() as conn:
            wc = write.WriteContext(conn=conn, principal=principal)
            return write.system_create(wc, BY_TYPE[type_name], {"lead_id": lead_id, **values})

    def ids(
        self, keep: Callable[[Obj], bool], key: str = "date_created", reverse: bool = True
    ) -> list[str]:
        chosen = [a for a in self.all if keep(a)]
        chosen.sort(key=lambda a: (a[key], a["id"]), reverse=reverse)
        return [a["id"] for a in chosen]


@pytest.fixture
def world(app: Any, api: Api) -> World:
    return World(app, api)


# (params, headers, expected ids as a function of the world)
VALID: list[
    tuple[str, Callable[[World], dict[str, str]], dict[str, str], Callable[[World], list[str]]]
] = [
    ("everything", lambda w: {}, {}, lambda w: w.ids(lambda a: True)),
    ("one lead", lambda w: {"lead_id": w.a}, {}, lambda w: w.ids(lambda a: a["lead_id"] == w.a)),
    ("lead comma list", lambda w: {"lead_id": f"{w.a},{w.b}"}, {}, lambda w: w.ids(lambda a: True)),
    (
        "lead_id__in",
        lambda w: {"lead_id__in": w.b},
        {},
        lambda w: w.ids(lambda a: a["lead_id"] == w.b),
    ),
    ("user on a lead", lambda w: {"lead_id": w.a, "user_id": w.u2}, {}, lambda w: [w.c1]),
    (
        "user_id__in on a lead",
        lambda w: {"lead_id": w.a, "user_id__in": f"{w.u2},user_x"},
        {},
        lambda w: [w.c1],
    ),
    ("contact on a lead", lambda w: {"lead_id": w.a, "contact_id": w.ca}, {}, lambda w: [w.n1]),
    (
        "contact_id__in on a lead",
        lambda w: {"lead_id": w.a, "contact_id__in": w.ca},
        {},
        lambda w: [w.n1],
    ),
    ("type on a lead", lambda w: {"lead_id": w.a, "_type": "Note"}, {}, lambda w: [w.n1]),
    (
        "types on a lead",
        lambda w: {"lead_id": w.a, "_type__in": "Note,Call"},
        {},
        lambda w: [w.c1, w.n1],
    ),
    ("ids", lambda w: {"id__in": f"{w.n1},{w.c2}"}, {}, lambda w: [w.c2, w.n1]),
    (
        "organization",
        lambda w: {"organization_id": w.api.org_id},
        {},
        lambda w: w.ids(lambda a: True),
    ),
    ("another organization id", lambda w: {"organization_id": "orga_x"}, {}, lambda w: []),
    (
        "plain date window",
        lambda w: {"date_created__gte": "2024-01-02", "date_created__lt": "2024-01-04"},
        {},
        lambda w: [w.s1, w.c1],
    ),
    (
        "naive datetime",
        lambda w: {"date_created__gt": "2024-01-02T10:00:00", "date_created__lte": "2024-01-04"},
        {},
        lambda w: [w.s1],
    ),
    (
        "full ISO with offset",
        lambda w: {
            "date_created__gte": "2024-01-02T10:00:00.000000+00:00",
            "date_created__lt": "2024-01-03T10:00:00.000000+00:00",
        },
        {},
        lambda w: [w.c1],
    ),
    (
        "other offset",
        lambda w: {"date_created__lte": "2024-01-02T12:00:00+02:00"},
        {},
        lambda w: [w.c1, w.n1],
    ),
    ("Z suffix", lambda w: {"date_created__lt": "2024-01-02T10:00:00Z"}, {}, lambda w: [w.n1]),
    (
        "X-TZ-Offset moves naive dates",
        lambda w: {"date_created__lt": "2024-01-02T12:00:00"},
        {"X-TZ-Offset": "2"},
        lambda w: [w.n1],
    ),
    (
        "oldest first",
        lambda w: {"_order_by": "date_created"},
        {},
        lambda w: w.ids(lambda a: True, reverse=False),
    ),
    (
        "activity_at on a lead",
        lambda w: {"lead_id": w.a, "_order_by": "-activity_at"},
        {},
        lambda w: w.ids(lambda a: a["lead_id"] == w.a, key="activity_at"),
    ),
    (
        "activity_at window",
        lambda w: {"lead_id": w.a, "_order_by": "activity_at", "activity_at__lt": "2024-01-01"},
        {},
        lambda w: [w.s1],
    ),
    ("another organization's lead", lambda w: {"lead_id": "lead_notours"}, {}, lambda w: []),
]


@pytest.mark.parametrize(
    ("name", "params", "headers", "expected"), VALID, ids=[v[0] for v in VALID]
)
def test_it_filters_and_orders_the_feed(
    world: World, name: str, params: Any, headers: dict[str, str], expected: Any
) -> None:
    body = world.api.ok("GET", "activity/", params=params(world), headers=headers)
    assert [a["id"] for a in body["data"]] == expected(world)
    assert body["has_more"] is False


# (params, the parameter the 400 must name)
INVALID: list[tuple[Callable[[World], dict[str, str]], str]] = [
    (lambda w: {"user_id": w.u1}, "user_id"),
    (lambda w: {"user_id__in": w.u1}, "user_id__in"),
    (lambda w: {"contact_id": w.ca}, "contact_id"),
    (lambda w: {"contact_id__in": w.ca}, "contact_id__in"),
    (lambda w: {"_type": "Note"}, "_type"),
    (lambda w: {"_type__in": "Note,Call"}, "_type__in"),
    (lambda w: {"lead_id__in": w.a, "_type": "Note"}, "_type"),
    (lambda w: {"_order_by": "-activity_at"}, "_order_by"),
    (lambda w: {"lead_id": w.a, "activity_at__gt": "2024-01-01"}, "activity_at__gt"),
    (
        lambda w: {"lead_id": w.a, "_order_by": "-activity_at", "date_created__gt": "2024-01-01"},
        "date_created__gt",
    ),
    (lambda w: {"date_created__gt": "yesterday"}, "date_created__gt"),
    (lambda w: {"date_created__gt": "2024-13-45"}, "date_created__gt"),
    (lambda w: {"_skip": "-1"}, "_skip"),
    (lambda w: {"_limit": "abc"}, "_limit"),
    (lambda w: {"_limit": "101"}, "_limit"),
    (lambda w: {"lead_id": w.a, "_type": "Bogus"}, "_type"),
    (lambda w: {"thread_emails": "maybe"}, "thread_emails"),
    (lambda w: {"_order_by": "name"}, "_order_by"),
]


@pytest.mark.parametrize(
    ("params", "param"), INVALID, ids=[i[1] + f"-{n}" for n, i in enumerate(INVALID)]
)
def test_it_rejects_what_close_rejects_naming_the_parameter(
    world: World, params: Any, param: str
) -> None:
    response = world.api.get("activity/", params=params(world))
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"errors", "field-errors"}
    text = " ".join(body["errors"]) + " ".join(body["field-errors"])
    assert param in text


def test_it_explains_why_a_filter_needs_a_lead(world: World) -> None:
    body = world.api.get("activity/", params={"user_id": world.u1}).json()
    assert body["errors"] == [
        "user_id can only be used together with lead_id: filtering by user, contact or type is "
        "only supported when listing the activities of a single lead."
    ]


class TestPaging:
    @pytest.fixture
    def crowd(self, world: World) -> list[str]:
        """25 notes sharing one date_created: ties must be broken by id, never dropped."""
        for i in range(25):
            world.post("note", world.a, "2024-02-01T00:00:00", note=f"tie {i}")
        return [
            a["id"] for a in world.api.ok("GET", "activity/", params={"lead_id": world.a})["data"]
        ]

    @pytest.mark.parametrize("size", [1, 2, 7, 10, 28, 29, 30])
    def test_it_pages_without_gaps_or_duplicates(
        self, world: World, crowd: list[str], size: int
    ) -> None:
        seen: list[str] = []
        skip = 0
        while True:
            body = world.api.ok(
                "GET", "activity/", params={"lead_id": world.a, "_limit": size, "_skip": skip}
            )
            seen += [a["id"] for a in body["data"]]
            skip += len(body["data"])
            assert body["has_more"] is (skip < len(crowd))
            if not body["has_more"]:
                break
        assert seen == crowd
        assert len(crowd) == 29  # Created, n1, c1, s1 and the 25 ties

    def test_it_defaults_to_100_per_page(self, world: World) -> None:
        for i in range(101):
            world.post("note", world.b, "2024-03-01T00:00:00", note=str(i))
        body = world.api.ok("GET", "activity/", params={"lead_id": world.b})
        assert len(body["data"]) == 100
        assert body["has_more"] is True


class TestTypesAndThreads:
    def test_it_filters_custom_activities_by_type_id_and_custom(self, world: World) -> None:
        first = world.system("CustomActivity", world.a, custom_activity_type_id="actitype_one")
        second = world.system("CustomActivity", world.a, custom_activity_type_id="actitype_two")
        get = world.api.ok
        by_id = get("GET", "activity/", params={"lead_id": world.a, "_type": "actitype_one"})
        assert [a["id"] for a in by_id["data"]] == [first["id"]]
        custom = get("GET", "activity/", params={"lead_id": world.a, "_type__in": "Custom"})
        assert {a["id"] for a in custom["data"]} == {first["id"], second["id"]}
        mixed = get(
            "GET", "activity/", params={"lead_id": world.a, "_type__in": "Note,actitype_two"}
        )
        assert {a["id"] for a in mixed["data"]} == {second["id"], world.n1}

    def test_it_shows_threads_only_when_asked(self, world: World) -> None:
        thread = world.system("EmailThread", world.a, latest_normalized_subject="Hello")
        emails = [
            world.system(
                "Email",
                world.a,
                thread_id=thread["id"],
                status="sent",
                subject=s,
                direction="outgoing",
                body_text="long body " * 50,
                sender="a@x.example",
                envelope={"from": [{"email": "a@x.example", "name": "A"}], "to": []},
            )
            for s in ("Hello", "Re: Hello")
        ]
        email_ids = {e["id"] for e in emails}
        get = world.api.ok
        default = get("GET", "activity/", params={"lead_id": world.a})["data"]
        assert {a["_type"] for a in default} >= {"Email"}
        assert "EmailThread" not in {a["_type"] for a in default}
        assert all("body_text" in a for a in default if a["_type"] == "Email")

        both = get("GET", "activity/", params={"lead_id": world.a, "thread_emails": "true"})["data"]
        assert {a["id"] for a in both if a["_type"] == "Email"} == email_ids
        (listed,) = [a for a in both if a["_type"] == "EmailThread"]
        assert listed["n_emails"] == 2
        assert [e["subject"] for e in listed["latest_emails"]] == ["Re: Hello", "Hello"] or [
            e["subject"] for e in listed["latest_emails"]
        ] == ["Hello", "Re: Hello"]
        assert listed["participants"] == [{"email": "a@x.example", "name": "A"}]
        stripped = [a for a in both if a["_type"] == "Email"]
        assert all("body_text" not in a and "body_preview" in a for a in stripped)

        only = get("GET", "activity/", params={"lead_id": world.a, "thread_emails": "only"})["data"]
        assert "Email" not in {a["_type"] for a in only}
        assert thread["id"] in {a["id"] for a in only}


class TestProjectionAndShape:
    def test_it_projects_fields_on_the_feed(self, world: World) -> None:
        body = world.api.ok(
            "GET", "activity/", params={"lead_id": world.a, "_fields": "id,_type,date_created"}
        )
        assert all(set(a) == {"id", "_type", "date_created"} for a in body["data"])

    def test_it_fills_names_from_users(self, world: World) -> None:
        call = world.api.ok("GET", f"activity/call/{world.c1}/")
        assert (call["user_id"], call["user_name"]) == (world.u2, "Dick Grayson")
        assert (call["created_by"], call["created_by_name"]) == (world.u1, "Bruce Wayne")
        assert call["updated_by_name"] == "Bruce Wayne"

    def test_it_uses_a_fixed_number_of_queries_per_page(self, world: World) -> None:
        for i in range(40):
            world.post("note", world.a, "2024-04-01T00:00:00", note=str(i), user_id=world.u2)
        statements: list[str] = []
        engine = world.app.state.db.engine

        def count(*args: Any) -> None:
            if args[2].lstrip().upper().startswith("SELECT"):
                statements.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            world.api.ok("GET", "activity/", params={"lead_id": world.a, "_limit": 5})
            small = len(statements)
            statements.clear()
            world.api.ok("GET", "activity/", params={"lead_id": world.a, "_limit": 100})
            large = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert small == large
        assert large <= 3  # auth, the page, user names


@pytest.mark.parametrize("spec", ACTIVITY_TYPES, ids=[s.type for s in ACTIVITY_TYPES])
def test_every_typed_list_answers_with_the_envelope(world: World, spec: Any) -> None:
    body = world.api.ok("GET", f"activity/{spec.path}/", params={"user_id": world.u2})
    assert set(body) == {"data", "has_more"}
    assert all(a["_type"] == spec.type and a["user_id"] == world.u2 for a in body["data"])
