"""``crmapi import --from``: one organization copied between two real ``crmapi serve``
processes on different backends, through Close's public endpoints, and compared list by list
(ids, dates, fields, order). docs/decisions.md "Mirror" names what is not copied and why.
"""

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

from crmapi.activities.registry import ACTIVITY_TYPES
from crmapi.testing.observe import Observe
from tests.acceptance.harness import free_port

pytestmark = [pytest.mark.xdist_group("mirror"), pytest.mark.timeout(900)]

# Every list endpoint the mirror copies into, read whole on both sides.
LISTS = (
    "user/",
    "status/lead/",
    "status/opportunity/",
    "pipeline/",
    "custom_activity/",
    "custom_field/lead/",
    "custom_field/contact/",
    "custom_field/opportunity/",
    "custom_field/activity/",
    "lead/",
    "contact/",
    "opportunity/",
    "task/",
    "activity/",
    "outcome/",
    "email_template/",
    "sms_template/",
    "saved_search/",
)
# Activities no public endpoint writes (the system writes them from what happened: a form
# submitted, two leads merged): not copied (docs/decisions.md "Mirror").
UNWRITABLE = {"FormSubmission", "LeadMerge"}
# What the write path derives again instead of taking it from the body (the demo's seeder
# stored these without deriving them): an email's thread, phone formatting, the WhatsApp
# integration's name, a posted opportunity status change's formatted value.
DERIVED = (
    "thread_id",
    "opportunity_value_formatted",
    "local_country_iso",
    "local_phone_formatted",
    "remote_country_iso",
    "remote_phone_formatted",
    "integration_name",
)


@dataclass
class Node:
    """``crmapi serve`` on one database (SQLite file or a fresh PostgreSQL database)."""

    url: str
    workdir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "CRMAPI_DATABASE_URL": self.url, **self.env_extra}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/"

    def cli(self, *args: str, timeout: float = 300) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "crmapi", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return found

    def start(self, *args: str) -> str:
        """Serve; the demo key when ``--demo`` is given."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.workdir / "serve.log", "wb")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "crmapi", "serve", "--port", str(self.port), *args],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            try:
                httpx.get(self.base + "me/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        key = [ln.split()[-1] for ln in self.log().splitlines() if ln.startswith("API key:")]
        return key[0] if key else ""

    def log(self) -> str:
        path = self.workdir / "serve.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # by PID: only the process this test started
            self.process.wait(timeout=20)


def call(node: Node, key: str, method: str, path: str, body: Any = None) -> Any:
    """One request; a 429 (the throttled source) waits its ``rate_reset`` and asks again."""
    auth = "Basic " + b64encode(f"{key}:".encode()).decode()
    while True:
        response = httpx.request(
            method, node.base + path, json=body, timeout=30, headers={"Authorization": auth}
        )
        if response.status_code != 429:
            break
        time.sleep(float(response.json()["rate_reset"]) + 0.05)
    assert response.status_code < 300, response.text
    return response.json()


def everything(node: Node, key: str, path: str) -> list[Any]:
    """A list endpoint's whole output, page by page, as a client reads it."""
    out: list[Any] = []
    while True:
        page = call(node, key, "GET", f"{path}?_skip={len(out)}&_limit=100")
        out += page["data"]
        if not page.get("has_more") or not page["data"]:
            return out


# By type, what the one write path of that type derives itself: a lead's Created activity is
# by the lead's creator at its creation (the demo seeder wrote some by another member, and a
# merge moves the merged lead's Created to the surviving lead); a meeting is written as a
# calendar sync writes it (no creator, its organizer among its users, its status as of its
# write; the demo seeder stored others).
AUTHOR = (
    "created_by",
    "created_by_name",
    "updated_by",
    "updated_by_name",
    "user_id",
    "user_name",
    "date_created",
    "date_updated",
    "activity_at",
)
DERIVED_BY_TYPE = {
    "Created": AUTHOR,
    "Meeting": ("created_by", "created_by_name", "users", "status"),
}


def comparable(path: str, items: list[Any], merged: set[str]) -> list[Any]:
    if path != "activity/":
        return items
    return [
        {k: v for k, v in a.items() if k not in DERIVED + DERIVED_BY_TYPE.get(a["_type"], ())}
        for a in items
        if a.get("_type") not in UNWRITABLE
        and not (a.get("_type") == "Created" and a.get("lead_id") in merged)
    ]


def assert_same(source: Node, skey: str, target: Node, tkey: str) -> dict[str, int]:
    counts = {}
    for path in LISTS:
        want, got = everything(source, skey, path), everything(target, tkey, path)
        ids = [o.get("id") for o in got]
        assert len(ids) == len(set(ids)), f"{path}: duplicated objects"
        merged = {a["lead_id"] for a in want if a.get("_type") == "LeadMerge"}
        assert comparable(path, got, merged) == comparable(path, want, merged), _diff(
            path, got, want
        )
        counts[path] = len(want)
    return counts


def _diff(path: str, got: list[Any], want: list[Any]) -> str:
    g, w = {o.get("id"): o for o in got}, {o.get("id"): o for o in want}
    keys = {
        (w[i].get("_type"), k)
        for i in g.keys() & w.keys()
        for k in g[i].keys() | w[i].keys()
        if g[i].get(k) != w[i].get(k)
    }
    missing = sorted({str(w[i].get("_type")) for i in w.keys() - g.keys()})
    extra = len(g.keys() - w.keys())
    return f"{path}: keys differ {sorted(keys, key=str)[:20]}; missing {missing}; extra {extra}"


def import_argv(source: Node, key: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "crmapi",
        "import",
        "--quiet",
        "--from",
        source.base,
        "--api-key",
        key,
        *extra,
    ]


def run_import(source: Node, skey: str, target: Node, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        import_argv(source, skey, *extra),
        env=target.env(),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def pg_base(postgres_url: str | None) -> str:
    if postgres_url is None:
        pytest.skip("PostgreSQL not available")
    return postgres_url


def database(kind: str, pg_base: str, workdir: Path) -> str:
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{workdir / 'crmapi.db'}"
    name = f"mirror_{uuid.uuid4().hex[:10]}"
    engine = create_engine(pg_base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return pg_base.rsplit("/", 1)[0] + f"/{name}"


@dataclass
class Source:
    node: Node
    key: str
    org: str


def start_source(kind: str, pg_base: str, workdir: Path, **env: str) -> Source:
    node = Node(database(kind, pg_base, workdir), workdir, dict(env))
    key = node.start("--demo")
    # ``crmapi seed``'s generated org sits beside the demo one in the same database.
    node.cli("seed", "--leads", "8", "--activities", "80", "--users", "2", "--quiet")
    org = call(node, key, "GET", "me/")["organizations"][0]["id"]
    return Source(node, key, org)


DIRECTIONS = [("sqlite", "postgres"), ("postgres", "sqlite")]


@pytest.fixture(scope="module", params=DIRECTIONS, ids=["sqlite-to-postgres", "postgres-to-sqlite"])
def pair(
    request: pytest.FixtureRequest, pg_base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Source, str]]:
    here = tmp_path_factory.mktemp("mirror")
    source = start_source(request.param[0], pg_base, here / "source")
    try:
        yield source, request.param[1]
    finally:
        source.node.stop()


def fresh_target(kind: str, pg_base: str, workdir: Path) -> Node:
    node = Node(database(kind, pg_base, workdir), workdir)
    return node


def test_round_trip_then_incremental(
    pair: tuple[Source, str], pg_base: str, tmp_path: Path
) -> None:
    source, kind = pair
    types = {a["_type"] for a in everything(source.node, source.key, "activity/")}
    assert types >= {s.type for s in ACTIVITY_TYPES} - {"EmailThread"}, "the demo lacks a type"
    target = fresh_target(kind, pg_base, tmp_path / "target")
    first = run_import(source.node, source.key, target)
    assert first["organization_id"] == source.org
    assert first["refused"] == {}, first["errors"]
    target.start()
    try:
        counts = assert_same(source.node, source.key, target, first["api_key"])
        assert counts["lead/"] > 0
        assert counts["activity/"] > 0
        # Incremental: 5 leads changed and 3 activities added on the source.
        leads = everything(source.node, source.key, "lead/")[:5]
        for lead in leads:
            call(
                source.node,
                source.key,
                "PUT",
                f"lead/{lead['id']}/",
                {"description": f"changed {lead['id'][-4:]}"},
            )
        for lead in leads[:3]:
            call(
                source.node,
                source.key,
                "POST",
                "activity/note/",
                {"lead_id": lead["id"], "note": "added after the first import"},
            )
        second = run_import(source.node, source.key, target, "--org", source.org)
        assert second["read"]["activities"] == 3, second["read"]
        assert second["read"]["leads"] == 5, second["read"]
        assert second["leads"] == 0, second
        assert second["objects"].get("Note") == 3, second
        assert_same(source.node, source.key, target, first["api_key"])
    finally:
        target.stop()


def sqlite_copy(source: Source, workdir: Path, **env: str) -> Source:
    """The SQLite source's database copied (online backup) to serve it again, differently."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "crmapi.db"
    with (
        sqlite3.connect(source.node.url.removeprefix("sqlite:///")) as src,
        sqlite3.connect(path) as dst,
    ):
        src.backup(dst)
    node = Node(f"sqlite:///{path}", workdir, dict(env))
    node.start()
    return Source(node, source.key, source.org)


def test_a_killed_import_resumes_without_duplicates_or_gaps(
    pair: tuple[Source, str], pg_base: str, tmp_path: Path
) -> None:
    source, kind = pair
    if kind != "postgres":
        pytest.skip("one direction is enough: resuming is the checkpoint's, not the backend's")
    target = fresh_target(kind, pg_base, tmp_path / "target")
    rng = random.Random(19)
    for _ in range(3):
        running = subprocess.Popen(
            import_argv(source.node, source.key, *_org(target, source)),
            env=target.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Short enough that three kills land before a fast machine finishes the copy.
        time.sleep(rng.uniform(1.5, 4.0))
        assert running.poll() is None, "the import finished before it could be killed"
        running.kill()  # by PID: the import this test started
        running.wait(timeout=10)
    report = run_import(source.node, source.key, target, *_org(target, source))
    assert report["since"] is None, "the finishing run is the rest of the first one"
    target.start()
    try:
        assert_same(source.node, source.key, target, _key(target, source))
    finally:
        target.stop()


def _org(target: Node, source: Source) -> list[str]:
    """``--org`` once the first (killed) run has created the organization."""
    engine = create_engine(target.url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT id FROM organization WHERE id = :i"), {"i": source.org}
            ).first()
    except Exception:  # no schema yet: the first run migrates it
        found = None
    finally:
        engine.dispose()
    return ["--org", source.org] if found else []


def _key(target: Node, source: Source) -> str:
    """A fresh key of the copied owner (the key the killed run printed is lost with it)."""
    me = call(source.node, source.key, "GET", "me/")
    return str(target.cli("user", "add", "--org", source.org, "--email", me["email"])["api_key"])


def test_a_throttled_failing_source_is_copied_whole(
    pair: tuple[Source, str], pg_base: str, tmp_path: Path
) -> None:
    source, kind = pair
    if kind != "postgres":
        pytest.skip("one direction is enough: politeness is the client's, not the backend's")
    hostile = sqlite_copy(
        source, tmp_path / "hostile", CRMAPI_RATE_LIMIT_PER_KEY="5", CRMAPI_RATE_LIMIT_WINDOW="1"
    )
    target = fresh_target(kind, pg_base, tmp_path / "target")
    try:
        obs = Observe(f"http://127.0.0.1:{hostile.node.port}", source.key, source.org)
        effect = {"kind": "status", "status": 503}
        with obs.fault(effect, trigger={"probability": 0.05, "seed": 5}) as rule:
            report = run_import(hostile.node, source.key, target)
        assert rule["fired"] > 0
        assert report["source"]["retried"] >= rule["fired"]
        assert report["source"]["throttled"] + report["source"]["waited"] > 0
        target.start()
        assert_same(hostile.node, source.key, target, report["api_key"])
    finally:
        target.stop()
        hostile.node.stop()
