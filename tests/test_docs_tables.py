"""docs/activity-types.md's table follows the registry: one row per declared activity type, in
registry order, with the type's path and verbs. A new type fails here until it is documented;
the ``Who writes it`` and ``Notes`` columns stay prose."""

from pathlib import Path

from crmapi import registry

DOC = Path(__file__).parent.parent / "docs" / "activity-types.md"
LETTERS = (("list", "L"), ("create", "C"), ("get", "G"), ("update", "U"), ("delete", "D"))


def _verbs(verbs: frozenset[str]) -> str:
    return " ".join(letter for verb, letter in LETTERS if verb in verbs)


def _table() -> list[tuple[str, str, str]]:
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and not line.startswith("| `_type`") and len(cells) >= 3:
            rows.append((cells[0].strip("`"), cells[1].strip("`"), cells[2]))
    return rows


def test_the_activity_types_table_is_the_registry() -> None:
    expected = [(s.type, s.path, _verbs(s.verbs)) for s in registry.TYPES]
    assert _table() == expected
