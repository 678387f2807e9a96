"""``crmapi seed``: the bulk loader writes what the regular write path would, on both backends."""

import random
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from crmapi import seed
from crmapi.activities import store
from crmapi.storage import tables as t
from crmapi.storage.db import Database


def _org() -> seed.Org:
    statuses = [{"id": f"stat_{i}", "label": f"Status {i}"} for i in range(4)]
    return seed.Org("orga_test", ["user_a", "user_b", "user_c"], "key", statuses)


def _generator(rows: bool) -> tuple[seed.Generator, list[str]]:
    rng = random.Random(3)
    start = seed.SEED_END - timedelta(days=365)
    gen = seed.Generator(_org(), rng, start, seed.SEED_END, rows=rows)
    leads = gen.leads(50)["lead"]
    return gen, [lead["id"] for lead in leads]


def test_rows_are_the_objects_as_the_store_writes_them() -> None:
    objects, lead_ids = _generator(rows=False)
    rows, same_ids = _generator(rows=True)
    assert same_ids == lead_ids
    expected = objects.created_activities(lead_ids) + objects.activities(lead_ids, 3000)
    got = rows.created_activities(lead_ids) + rows.activities(lead_ids, 3000)
    assert len(got) == len(expected)
    assert {o["_type"] for o in expected} >= {kind for kind, _ in seed.MIX}
    for obj, row in zip(expected, got, strict=True):
        assert row == store.row_tuple(obj)
        stored = store.row_values(obj)
        by_column = dict(zip(store.ROW_COLUMNS, row, strict=True))
        assert by_column["data"] == orjson.dumps(stored["data"]).decode()
        assert {**by_column, "data": stored["data"]} == stored
        assert stored["shape"] == store.stored_shape(obj["_type"])[0]


def _populate(url: str, **kw: Any) -> list[seed.Seeded]:
    db = Database(url)
    try:
        return seed.populate(db, 30, 2000, n_orgs=2, seed=9, **kw)
    finally:
        db.dispose()


def test_populate(database_url: str) -> None:
    progress: list[int] = []
    seeded = _populate(database_url, users=3, progress=progress.append)
    assert [(s.leads, s.activities) for s in seeded] == [(30, 2000), (3, 200)]
    assert sum(progress) == 2200
    db = Database(database_url)
    try:
        with db.read() as conn:
            for s in seeded:
                count = select(func.count()).where(
                    t.activity.c.organization_id == s.organization_id
                )
                assert conn.execute(count.select_from(t.activity)).scalar_one() == s.activities
            rows = conn.execute(select(t.activity.c.type, t.activity.c.shape, t.activity.c.data))
            for type_name, shape, data in rows:
                assert shape == store.stored_shape(type_name)[0]
                assert set(store.stored_shape(type_name)[1]) <= set(data)
            if db.dialect == "sqlite":
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                names = "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='activity'"
                indexes = {row[0] for row in conn.exec_driver_sql(names)}
                assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar_one() > 0
            else:
                names = "SELECT indexname FROM pg_indexes WHERE tablename = 'activity'"
                indexes = {row[0] for row in conn.exec_driver_sql(names)}
        assert {index.name for index in t.activity.indexes} <= indexes
    finally:
        db.dispose()


def test_populate_is_deterministic_but_for_the_organization_ids(database_url: str) -> None:
    def content(url: str) -> list[Any]:
        db = Database(url)
        a = t.activity.c
        try:
            with db.read() as conn:
                query = select(a.id, a.type, a.lead_id, a.contact_id, a.date_created, a.data)
                return [
                    # Status ids, like organization and user ids, are each organization's own.
                    (*r[:-1], {k: v for k, v in r.data.items() if not k.endswith("status_id")})
                    for r in conn.execute(query.order_by(a.id))
                ]
        finally:
            db.dispose()

    first = _populate(database_url)
    before = content(database_url)
    second = _populate(database_url)
    assert [s.lead_ids for s in first] == [s.lead_ids for s in second]
    after = content(database_url)
    assert len(after) == 2 * len(before) == 4400
    assert [row for pair in zip(before, before, strict=True) for row in pair] == after


def test_populate_beside_another_connection(database_url: str) -> None:
    """Another open connection keeps SQLite in WAL mode: the load goes through it."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's journal mode")
    db = Database(database_url)
    try:
        with db.read() as other:
            other.execute(select(func.count()).select_from(t.organization)).scalar_one()
            seeded = seed.populate(db, 10, 500, seed=2)
        with db.read() as conn:
            total = conn.execute(select(func.count()).select_from(t.activity)).scalar_one()
            assert total == seeded[0].activities == 500
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        db.dispose()


def test_resources_are_seeded_from_their_declarations() -> None:
    """Leads and their contacts come from each ResourceSpec's ``sample`` (registry order);
    every row a sample makes fits its table."""
    assert [spec.name for spec in seed.SAMPLED_RESOURCES] == ["lead", "contact"]
    gen, lead_ids = _generator(rows=True)
    made = seed.Generator(
        _org(), random.Random(3), seed.SEED_END - timedelta(days=365), seed.SEED_END
    ).leads(5)
    for spec in seed.SAMPLED_RESOURCES:
        assert spec.table is not None
        assert made[spec.name]
        for row in made[spec.name]:
            assert set(row) <= {c.name for c in spec.table.columns}, spec.name
    assert all(1 <= len(gen.contacts[lead_id]) <= 3 for lead_id in lead_ids)
