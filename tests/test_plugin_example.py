"""The pytest plugin's example suite, run as its users run it: in a virtualenv of its own,
with crmapi installed from the wheel built from this tree (``pip wheel --no-deps``).

The virtualenv is cached under /tmp (like the acceptance suite's client venvs): a warm run
reinstalls only the crmapi wheel.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pytest-plugin"
CACHE = Path(os.environ.get("CRMAPI_PLUGIN_EXAMPLE_DIR", "/tmp/crmapi-plugin-example"))

pytestmark = pytest.mark.timeout(900)


def _run(argv: list[str], timeout: float, cwd: Path | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(CACHE),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, f"{argv[:4]}: {done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _venv() -> Path:
    """The example's virtualenv with its requirements (reused while they are unchanged)."""
    venv = CACHE / "venv"
    stamp = venv / ".crmapi-stamp"
    wanted = (EXAMPLE / "requirements.txt").read_text()
    fresh = (venv / "bin" / "python").exists() and stamp.exists() and stamp.read_text() == wanted
    if not fresh:
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], 120)
        _run([str(venv / "bin" / "pip"), "install", "-q", "-r", str(EXAMPLE / "requirements.txt")],
             600)  # fmt: skip
        stamp.write_text(wanted)
    return venv


def test_the_example_suite_passes_against_the_built_wheel(tmp_path: Path) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    venv = _venv()
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
         300)  # fmt: skip
    (wheel,) = wheels.glob("crmapi-*.whl")
    pip = str(venv / "bin" / "pip")
    # Its dependencies once (then satisfied from the venv), the wheel itself every time.
    _run([pip, "install", "-q", str(wheel)], 600)
    _run([pip, "install", "-q", "--force-reinstall", "--no-deps", str(wheel)], 300)
    # A copy outside the repository: nothing can import crmapi from the source tree.
    work = tmp_path / "example"
    shutil.copytree(EXAMPLE, work)
    out = _run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
               600, cwd=work)  # fmt: skip
    assert "3 passed" in out, out
