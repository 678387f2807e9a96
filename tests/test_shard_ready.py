"""Ready to shard by organization (Citus-style): every table carries ``organization_id`` and
every primary key, unique constraint and foreign key includes it, in ``tables.py`` and in a
database the migrations built. Global tables are the declared reference tables; the
``organization`` table is distributed by its own ``id``. docs/deployment.md has the steps.
"""

from typing import Any

import pytest
from sqlalchemy import inspect

from crmapi.storage import tables as t
from crmapi.storage.db import Database

# The column each distributed table is sharded on.
DISTRIBUTION_COLUMN = {"organization": "id"}


def _column(table: str) -> str:
    return DISTRIBUTION_COLUMN.get(table, "organization_id")


def violations(tables: dict[str, dict[str, Any]]) -> list[str]:
    """Each table as {"columns", "pk", "unique": [[...]], "fks": [(cols, referred, ref_cols)]}."""
    found = []
    for name, info in sorted(tables.items()):
        if name in t.REFERENCE_TABLES or name == "alembic_version":
            continue
        key = _column(name)
        if key not in info["columns"]:
            found.append(f"{name}: no {key} column")
        if key not in info["pk"]:
            found.append(f"{name}: primary key {info['pk']} lacks {key}")
        for unique in info["unique"]:
            if key not in unique:
                found.append(f"{name}: unique {unique} lacks {key}")
        for cols, referred, ref_cols in info["fks"]:
            if referred in t.REFERENCE_TABLES:
                continue  # a distributed table may reference a reference table
            pairs = dict(zip(cols, ref_cols, strict=True))
            if pairs.get(key) != _column(referred):
                found.append(f"{name}: foreign key {cols} -> {referred} not on {key}")
    return found


def from_metadata() -> dict[str, dict[str, Any]]:
    out = {}
    for table in t.metadata.sorted_tables:
        uniques = [
            [c.name for c in con.columns]
            for con in table.constraints
            if con.__class__.__name__ == "UniqueConstraint"
        ]
        uniques += [[c.name for c in ix.columns] for ix in table.indexes if ix.unique]
        uniques += [[c.name] for c in table.columns if c.unique]
        out[table.name] = {
            "columns": [c.name for c in table.columns],
            "pk": [c.name for c in table.primary_key.columns],
            "unique": uniques,
            "fks": [
                (
                    [e.parent.name for e in fk.elements],
                    fk.referred_table.name,
                    [e.column.name for e in fk.elements],
                )
                for fk in table.foreign_key_constraints
            ],
        }
    return out


def from_database(url: str) -> dict[str, dict[str, Any]]:
    db = Database(url)
    try:
        insp = inspect(db.engine)
        out = {}
        for name in insp.get_table_names():
            uniques = [u["column_names"] for u in insp.get_unique_constraints(name)]
            uniques += [i["column_names"] for i in insp.get_indexes(name) if i.get("unique")]
            out[name] = {
                "columns": [c["name"] for c in insp.get_columns(name)],
                "pk": insp.get_pk_constraint(name)["constrained_columns"],
                "unique": uniques,
                "fks": [
                    (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                    for fk in insp.get_foreign_keys(name)
                ],
            }
        return out
    finally:
        db.dispose()


def test_the_declared_schema_is_ready_to_shard() -> None:
    assert violations(from_metadata()) == []


def test_the_migrated_database_is_ready_to_shard(database_url: str) -> None:
    found = from_database(database_url)
    assert set(found) - {"alembic_version"} == {table.name for table in t.metadata.sorted_tables}
    assert violations(found) == []


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ({"columns": ["id"], "pk": ["id"], "unique": [], "fks": []}, "no organization_id"),
        (
            {"columns": ["id", "organization_id", "h"], "pk": ["organization_id", "id"],
             "unique": [["h"]], "fks": []},
            "unique ['h'] lacks organization_id",
        ),
        (
            {"columns": ["id", "organization_id", "lead_id"], "pk": ["organization_id", "id"],
             "unique": [], "fks": [(["lead_id"], "lead", ["id"])]},
            "foreign key ['lead_id'] -> lead not on organization_id",
        ),
    ],
)  # fmt: skip
def test_the_check_names_each_kind_of_violation(table: dict[str, Any], problem: str) -> None:
    assert any(problem in v for v in violations({"x": table}))
