"""Close's own OpenAPI document, narrowed to the operations we serve, fuzzed against us.

The document lives in the shared spec folder (``../shared/spec/close-openapi.yml`` next to
the repository); it is read at test time and never copied here. Zero 5xx is asserted; which of
Close's response schemas our answers satisfy is recorded for docs/reliability.md.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from crmapi.http.routing import route_table
from tests.reliability.conftest import record
from tests.reliability.server import Server, create_org
from tests.reliability.test_fuzz import ST, seed_objects

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [
    Path(os.environ.get("CRMAPI_CLOSE_SPEC", "/nonexistent")),
    ROOT.parent / "shared" / "spec" / "close-openapi.yml",
    ROOT.parent.parent / "shared" / "spec" / "close-openapi.yml",
]
EXAMPLES = int(os.environ.get("CRMAPI_CLOSE_FUZZ_EXAMPLES", "2"))
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"


def close_spec() -> Path:
    for path in CANDIDATES:
        if path.is_file():
            return path
    pytest.skip("close-openapi.yml not found next to the repository (../shared/spec/); skipped")


def served_subset(document: dict[str, Any]) -> dict[str, Any]:
    """Close's document with only the (path, method) pairs our route table serves."""
    ours = {path: {m.lower() for m in ops} for path, ops in route_table()}
    paths = {}
    for path, item in document["paths"].items():
        methods = {k: v for k, v in item.items() if k in ours.get(path, set())}
        if methods:
            paths[path] = methods
    return {**document, "paths": paths}


def test_it_answers_closes_own_document_without_5xx(
    fresh_database_url: str, tmp_path: Path
) -> None:
    document = served_subset(yaml.safe_load(close_spec().read_text()))
    spec_path = tmp_path / "close-served.json"
    spec_path.write_text(json.dumps(document))
    operations = sorted(f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item)
    org = create_org(fresh_database_url, "Close spec", "spec@example.com")
    report_path = tmp_path / "st.json"
    with Server(fresh_database_url) as server:
        seed_objects(server.base, org["api_key"])
        proc = __import__("subprocess").run(
            [
                ST,
                "run",
                str(spec_path),
                "--url",
                server.base + "/api/v1",
                "--auth",
                org["api_key"] + ":",
                "--checks",
                CHECKS,
                "--mode",
                "positive",
                "--max-examples",
                str(EXAMPLES),
                "--phases",
                "examples,fuzzing",
                "--continue-on-failure",
                "--workers",
                "1",
                "--suppress-health-check",
                "all",
                "--report",
                "json",
                "--report-json-path",
                str(report_path),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    report = json.loads(report_path.read_text())
    failed: dict[str, list[str]] = {op: [] for op in operations}
    for failure in report["failures"]:
        for op in failure["operations"]:
            failed.setdefault(op.replace("/api/v1", "", 1), []).append(failure["title"])
    record(
        "close-spec",
        fresh_database_url,
        {
            "requests": report["test_cases"]["generated"],
            "operations": {op: sorted(set(titles)) for op, titles in failed.items()},
        },
    )
    server_errors = [f for f in report["failures"] if f["type"] == "ServerError"]
    assert server_errors == [], proc.stdout[-6000:]
