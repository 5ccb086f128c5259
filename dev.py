#!/usr/bin/env python3
"""The project's one entry point: needs only Python 3.9+ and pip, makes its own virtualenv in ``.venv``.

    python3 dev.py serve     # the web.py example under a pre-fork server with 2 warmed workers, on :8000
    python3 dev.py test      # lint, type-check and the whole test suite (what CI runs)
    python3 dev.py demo      # first-request and median latency: this library vs. connect-per-request
    python3 dev.py bench     # every benchmark in bench/, tables printed and a chart written

``serve`` and ``demo`` use the embedded CQL test server unless ``CASSANDRA_CONTACT_POINTS`` is set.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_venv(extras: str = "dev") -> None:
    """Create ``.venv`` and install the project with ``extras``; redone only when pyproject.toml changes."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print(f"dev.py: installing wsgi-cassandra[{extras}] into {VENV} (first run only; uWSGI compiles)", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"])
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def tool(name: str) -> str:
    return str(BIN / name)


def test(args: list[str]) -> None:
    ensure_venv("dev")
    run([tool("ruff"), "check", "src", "tests", "bench", "examples", "dev.py"])
    run([tool("ruff"), "format", "--check", "src", "tests", "bench", "examples", "dev.py"])
    run([tool("mypy")])
    run([str(PYTHON), "-m", "pytest", *args])


def serve(args: list[str]) -> None:
    ensure_venv("dev")
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "examples" / "webpy_app" / "serve.py"), *args])


def demo(args: list[str]) -> None:
    ensure_venv("dev")
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "bench" / "demo.py"), *args])


def bench(args: list[str]) -> None:
    ensure_venv("dev,bench")
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "bench" / "run_all.py"), *args])


COMMANDS = {"serve": serve, "test": test, "demo": demo, "bench": bench}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
