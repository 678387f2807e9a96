"""Print the figures tables of docs/reliability.md from .reliability/*.json.

Run the tests first (``make reliability``, or ``make fuzz`` / ``make crash`` for the long
variants); each test writes one JSON file per backend.
"""

import json
import sys
from pathlib import Path

RESULTS = Path(".reliability")


def load(name: str) -> dict[str, dict[str, object]]:
    found = {}
    for backend in ("sqlite", "postgres"):
        path = RESULTS / f"{name}-{backend}.json"
        if path.exists():
            found[backend] = json.loads(path.read_text())
    return found


def table(title: str, name: str, keys: list[str]) -> None:
    rows = load(name)
    if not rows:
        print(f"_{title}: no results yet._\n")
        return
    print(f"### {title}\n")
    print("| figure | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        print(f"| {key} | " + " | ".join(str(r.get(key, "")) for r in rows.values()) + " |")
    print()


def close_spec() -> None:
    rows = load("close-spec")
    if not rows:
        return
    print("### Close's own document (operations we serve)\n")
    backends = list(rows)
    print("| operation | " + " | ".join(backends) + " |")
    print("|---|" + "---|" * len(backends))
    operations = sorted({op for r in rows.values() for op in r["operations"]})  # type: ignore[union-attr]
    for op in operations:
        cells = []
        for backend in backends:
            failures = rows[backend]["operations"].get(op)  # type: ignore[union-attr]
            cells.append("satisfied" if failures == [] else ", ".join(failures or ["-"]))
        print(f"| `{op}` | " + " | ".join(cells) + " |")
    print()
    print("Requests: " + ", ".join(f"{b} {r['requests']}" for b, r in rows.items()) + "\n")


def main() -> None:
    if not RESULTS.exists():
        sys.exit("No .reliability/ results: run `make reliability` first.")
    table(
        "Fuzzing (our /openapi.json)",
        "fuzz",
        [
            "requests",
            "operations_tested",
            "operations_total",
            "examples_per_operation",
            "failures",
            "seed",
        ],
    )
    table(
        "Crash durability",
        "crash",
        [
            "cycles",
            "writers",
            "acknowledged_writes",
            "acknowledged_lost",
            "half_present_leads",
            "failed_responses",
            "failed_but_present",
            "in_flight_at_kill",
            "in_flight_committed",
            "database_is_locked",
            "consistency_problems",
        ],
    )
    table("Tenant isolation", "isolation", ["routes", "cases"])
    close_spec()


if __name__ == "__main__":
    main()
