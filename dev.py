#!/usr/bin/env python3
"""The project's one entry point: needs only Python 3.9+ and pip, makes its own virtualenv in ``.venv``.

    python3 dev.py serve     # the web.py example under a pre-fork server with 2 warmed workers, on :8000
    python3 dev.py test      # lint, type-check and the whole test suite (what CI runs)
    python3 dev.py test --driver scylla   # the same with scylla-driver in place of cassandra-driver
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


def ensure_scylla_venv() -> Path:
    """``.venv-scylla``: the dev install with scylla-driver (ScyllaDB's fork of the driver, which ships the
    same ``cassandra`` package) in place of cassandra-driver; returns its bin folder."""
    venv_dir = ROOT / ".venv-scylla"
    bin_dir = venv_dir / BIN.name
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + b"scylla").hexdigest()[:16]
    stamp = venv_dir / f".installed-{digest}"
    if stamp.exists():
        return bin_dir
    if not (bin_dir / "python").exists():
        print(f"dev.py: creating {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    pip = [str(bin_dir / "python"), "-m", "pip"]
    print(f"dev.py: installing wsgi-cassandra[dev] with scylla-driver into {venv_dir}", flush=True)
    run([*pip, "install", "--quiet", "-e", ".[dev]"])
    run([*pip, "uninstall", "--quiet", "--yes", "cassandra-driver"])  # both own the `cassandra` package
    run([*pip, "install", "--quiet", "scylla-driver"])
    for old in venv_dir.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return bin_dir


def test(args: list[str]) -> None:
    bin_dir = BIN
    if args[:2] == ["--driver", "scylla"]:
        args, bin_dir = args[2:], ensure_scylla_venv()
    else:
        ensure_venv("dev")
    run([str(bin_dir / "ruff"), "check", "src", "tests", "bench", "examples", "dev.py"])
    run([str(bin_dir / "ruff"), "format", "--check", "src", "tests", "bench", "examples", "dev.py"])
    run([str(bin_dir / "mypy")])
    run([str(bin_dir / "python"), "-m", "pytest", *args])


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
