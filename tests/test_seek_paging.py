"""Deep ``_skip`` pages are sought from the previous page's end (query/seek.py): every page a
client walking ``_skip += _limit`` gets must equal the counting query's answer for that
offset, whatever is written between two pages."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from crmapi.query import seek
from tests import factories
from tests.conftest import Api

PAGE = 4
NOTES = 18  # several pages; three dates only, so ties are broken by id across page ends
DATES = ("2024-03-01T10:00:00", "2024-02-01T10:00:00", "2024-01-01T10:00:00")


class World:
    def __init__(self, api: Api, other: Api) -> None:
        self.api, self.other = api, other
        self.lead = factories.lead(api, "A")["id"]
        self.second = factories.lead(api, "B")["id"]
        self.notes = [self.note(DATES[i % 3], self.lead if i % 2 else self.second)
                      for i in range(NOTES)]  # fmt: skip
        self.served: list[str] = []  # ids the client has been given so far
        self.step = 0

    def note(self, when: str, lead: str | None = None) -> str:
        body = {"lead_id": lead or self.lead, "date_created": when, "note": "n"}
        return str(self.api.ok("POST", "activity/note/", body)["id"])

    def delete(self, activity_id: str) -> None:
        self.api.ok("DELETE", f"activity/note/{activity_id}/")
        self.notes.remove(activity_id)


def _insert_newer(w: World) -> None:  # sorts before every page end: shifts every offset
    w.notes.append(w.note("2025-01-01T00:00:00"))


def _insert_older(w: World) -> None:  # sorts after the page end: shifts nothing served
    w.notes.append(w.note("2020-01-01T00:00:00"))


def _insert_tied(w: World) -> None:  # same date as the rows around the page end
    w.notes.append(w.note(DATES[w.step % 3]))


def _delete_served(w: World) -> None:
    served = [i for i in w.served if i in w.notes]
    if served:
        w.delete(served[0])


def _delete_unserved(w: World) -> None:
    unserved = [i for i in w.notes if i not in w.served]
    if unserved:
        w.delete(unserved[0])


def _edit(w: World) -> None:
    w.api.ok("PUT", f"activity/note/{w.notes[0]}/", {"note": f"edited {w.step}"})


def _move(w: World) -> None:  # a served row's sort key changes: it jumps past the page end
    w.api.ok("PUT", f"activity/note/{w.notes[0]}/", {"date_created": "2019-01-01T00:00:00"})


def _other_org(w: World) -> None:  # another organization's writes leave this one's ends valid
    lead = factories.lead(w.other, "Z")["id"]
    w.other.ok("POST", "activity/note/", {"lead_id": lead, "note": "z"})


# What happens between two pages, and whether every page after the first must be a seek.
WRITES: list[tuple[str, Callable[[World], None] | None, bool]] = [
    ("nothing", None, True),
    ("another organization writes", _other_org, True),
    ("a newer row is inserted", _insert_newer, False),
    ("an older row is inserted", _insert_older, False),
    ("a row tied with the page end is inserted", _insert_tied, False),
    ("a served row is deleted", _delete_served, False),
    ("a row not yet served is deleted", _delete_unserved, False),
    ("a row is edited", _edit, False),
    ("a served row moves past the page end", _move, False),
]
LISTINGS: list[tuple[str, str, Callable[[World], dict[str, str]]]] = [
    ("feed, whole organization", "activity/", lambda w: {}),
    ("feed, one lead", "activity/", lambda w: {"lead_id": w.lead}),
    ("feed, two leads, _fields", "activity/",
     lambda w: {"lead_id": f"{w.second},{w.lead}", "_fields": "id,date_created"}),
    ("notes, oldest first", "activity/note/", lambda w: {"_order_by": "date_created"}),
    ("notes, date window", "activity/note/",
     lambda w: {"date_created__gte": "2024-01-15", "date_created__lt": "2026-01-01"}),
]  # fmt: skip


@contextmanager
def _counting() -> Iterator[None]:
    """Requests inside see no remembered page end: the plain counting query answers."""
    kept = seek.ENDS
    seek.ENDS = seek.PageEnds()
    try:
        yield
    finally:
        seek.ENDS = kept


@pytest.mark.parametrize(("writes", "between", "all_sought"), WRITES, ids=[w[0] for w in WRITES])
@pytest.mark.parametrize(("listing", "path", "params"), LISTINGS, ids=[x[0] for x in LISTINGS])
def test_sequential_pages_equal_the_counting_query(
    api: Api,
    other: Api,
    writes: str,
    between: Callable[[World], None] | None,
    all_sought: bool,
    listing: str,
    path: str,
    params: Callable[[World], dict[str, str]],
) -> None:
    w = World(api, other)
    base = params(w)
    seek.ENDS.clear()
    hits = seek.ENDS.hits
    pages = 0
    while True:
        query: dict[str, Any] = {**base, "_skip": pages * PAGE, "_limit": PAGE}
        got = api.ok("GET", path, params=query)
        with _counting():
            plain = api.ok("GET", path, params=query)
        assert got == plain, (pages, writes)
        pages += 1
        w.served += [item["id"] for item in got["data"]]
        if not got["has_more"]:
            break
        if between is not None:
            w.step = pages
            between(w)
    assert pages >= 3
    sought = seek.ENDS.hits - hits
    if all_sought:
        assert sought == pages - 1
    else:
        assert sought < pages - 1


def test_a_random_deep_skip_is_counted(api: Api, other: Api) -> None:
    w = World(api, other)
    seek.ENDS.clear()
    hits = seek.ENDS.hits
    got = api.ok("GET", "activity/", params={"_skip": 9, "_limit": 3})
    with _counting():
        assert got == api.ok("GET", "activity/", params={"_skip": 9, "_limit": 3})
    assert seek.ENDS.hits == hits
    assert len(got["data"]) == 3
    assert len(w.notes) == NOTES


def test_page_ends_are_bounded() -> None:
    ends = seek.PageEnds(size=3)
    for i in range(5):
        ends.put("listing", i, seek.PageEnd("k", str(i), 1))
    assert [ends.get("listing", i) is not None for i in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
