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


def webhook_urls() -> None:
    """The URL policy table (tests/test_webhook_urls.py writes it; same on both backends)."""
    path = RESULTS / "webhook-urls.json"
    if not path.exists():
        return
    word = {201: "allowed", 400: "refused"}
    print("### Webhook URLs (registration, per mode)\n")
    print("| url | emulator | production |")
    print("|---|---|---|")
    for row in json.loads(path.read_text()):
        url = row["url"].replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
        print(f"| `{url}` | {word[row['emulator']]} | {word[row['production']]} |")
    print()


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
    table(
        "Extreme values in every body field",
        "extreme-values",
        ["operations", "fields", "requests", "accepted", "refused_400", "server_errors"],
    )
    webhook_urls()
    table(
        "Fairness (another organization's p95 while one runs its four heaviest lists)",
        "fairness",
        [
            "activities_a",
            "fair_idle_p95_ms",
            "fair_busy_p95_ms",
            "fair_ratio",
            "fair_b_requests",
            "fair_a_statuses",
            "fair_rounds",
            "unbounded_idle_p95_ms",
            "unbounded_busy_p95_ms",
            "unbounded_ratio",
            "unbounded_b_requests",
        ],
    )
    table(
        "Edges: 20 x 9 MB POSTs without valid credentials",
        "edges-memory",
        [
            "posts",
            "body_mb",
            "statuses",
            "rss_before_mb",
            "rss_after_mb",
            "rss_growth_mb",
            "seconds",
        ],
    )
    table(
        "Outages (database stopped or locked under load, then back)",
        "outage",
        [
            "outage_seconds",
            "requests",
            "statuses",
            "acknowledged_writes",
            "acknowledged_lost",
            "server_errors",
            "malformed_503",
            "recovery_seconds",
        ],
    )
    close_spec()


if __name__ == "__main__":
    main()
