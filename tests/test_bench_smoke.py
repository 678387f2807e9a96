"""The benchmark still runs end to end (10k activities, 1 s rounds); it asserts no speed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pg import find_bindir

ROOT = Path(__file__).resolve().parent.parent


def _backends() -> str:
    if find_bindir() is not None:
        return "sqlite,postgres"
    if os.environ.get("CRMAPI_REQUIRE_POSTGRES") == "1":
        pytest.fail("PostgreSQL binaries are required (CRMAPI_REQUIRE_POSTGRES=1)")
    return "sqlite"


@pytest.mark.timeout(120)
def test_it_runs_the_quick_bench_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "performance.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-datasette",
         "--data-dir", str(tmp_path / "data"), "--backends", _backends(), "--out", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    text = out.read_text()
    assert "## Targets" in text
    assert "| crmapi 1w |" in text
