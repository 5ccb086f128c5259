#!/usr/bin/env python3
"""The project's one entry point: needs only Python 3.9+ and pip, makes its own virtualenv in ``.venv``.

    python3 dev.py serve     # the web.py example under Gunicorn with 2 warmed workers, on :8000
    python3 dev.py test      # lint, type-check and the whole test suite (what CI runs; eventlet in .venv-eventlet)
    python3 dev.py test --driver scylla   # the same with scylla-driver in place of cassandra-driver
    python3 dev.py stress    # the test suite N times in a row with busy-loop CPU hogs beside it
    python3 dev.py demo      # first-request and median latency: this library vs. connect-per-request
    python3 dev.py bench     # every benchmark in bench/, tables printed and a chart written

``serve`` installs only what serving needs (pure Python: no compiler); ``serve --server uwsgi``, ``test``,
``stress`` and ``bench`` also build uWSGI, which needs a C compiler and Python's headers. ``serve`` and
``demo`` use the embedded CQL test server unless ``CASSANDRA_CONTACT_POINTS`` is set.

    python3 dev.py stress [--runs N] [--hogs H] [pytest arguments]   # default: 5 runs, 2 hogs
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"

# The extras that build uWSGI (a C extension: a compiler and Python's headers are needed).
BUILDS_UWSGI = {"dev", "uwsgi"}
UWSGI_HELP = """\
dev.py: uWSGI could not be built. It is compiled from C when installed, so it needs a C compiler and the
headers of this Python ({version}). Install them, then run the command again:
    Debian/Ubuntu:  sudo apt-get install build-essential python3-dev   (python{version}-dev for a non-default Python)
    Fedora/RHEL:    sudo dnf install gcc python3-devel
    Alpine:         apk add build-base python3-dev linux-headers
    macOS:          xcode-select --install
Only `serve --server uwsgi`, `test`, `stress` and `bench` need uWSGI; `python3 dev.py serve` (Gunicorn) does not."""


def ensure_venv(extras: str = "dev") -> None:
    """Create ``.venv`` and install the project with ``extras``; redone only when pyproject.toml changes.

    Installs only add, so each set of extras keeps its own stamp (``serve`` then ``test`` then ``serve``
    installs twice, not three times); a changed pyproject.toml makes every stamp stale."""
    project = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{project}-{hashlib.sha256(extras.encode()).hexdigest()[:8]}"
    if stamp.exists():
        return
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    builds = BUILDS_UWSGI & set(extras.split(","))
    note = " (first run only; uWSGI compiles)" if builds else " (first run only)"
    print(f"dev.py: installing wsgi-cassandra[{extras}] into {VENV}{note}", flush=True)
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    install = [str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"]
    code = subprocess.run(install, cwd=ROOT, check=False).returncode
    if code != 0:
        if builds and not (BIN / "uwsgi").exists():
            version = f"{sys.version_info.major}.{sys.version_info.minor}"
            print(UWSGI_HELP.format(version=version), file=sys.stderr)
        sys.exit(code)
    for old in VENV.glob(".installed-*"):
        if not old.name.startswith(f".installed-{project}-"):
            old.unlink()
    stamp.touch()


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False)
    if result.returncode != 0:
        sys.exit(result.returncode)


def tool(name: str) -> str:
    return str(BIN / name)


# Virtualenvs beside .venv for what cannot share it, each made by these pip steps (redone when pyproject.toml
# changes): scylla-driver ships the same `cassandra` package as cassandra-driver, so it replaces it; eventlet
# makes cassandra-driver 3.30 import it (and warn) in every process, and Gunicorn 26 dropped its eventlet worker.
SIDE_VENVS = {
    "scylla": [
        ["install", "--quiet", "-e", ".[dev]"],
        ["uninstall", "--quiet", "--yes", "cassandra-driver"],
        # Forced: when the venv is redone, the uninstall above has just removed the `cassandra` package
        # files that an already installed scylla-driver shares with it.
        ["install", "--quiet", "--force-reinstall", "--no-deps", "scylla-driver"],
        ["install", "--quiet", "scylla-driver"],
    ],
    "eventlet": [["install", "--quiet", "-e", ".[test,eventlet]", "gunicorn<26"]],
}
# What runs in the eventlet venv: the real `gunicorn -k eventlet` tests (skipped in .venv, saying where they run);
# eventlet's own deprecation banner is not ours to fail on, so pytest's warnings plugin is off there.
EVENTLET_TESTS = ["tests/test_gevent.py", "-k", "eventlet", "-p", "no:warnings", "-p", "no:cacheprovider", "-q"]


def ensure_side_venv(name: str) -> Path:
    """``.venv-NAME`` made by ``SIDE_VENVS[name]``; returns its bin folder."""
    venv_dir = ROOT / f".venv-{name}"
    bin_dir = venv_dir / BIN.name
    recipe = (name + repr(SIDE_VENVS[name])).encode()  # redone when the steps or pyproject.toml change
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + recipe).hexdigest()[:16]
    stamp = venv_dir / f".installed-{digest}"
    if stamp.exists():
        return bin_dir
    if not (bin_dir / "python").exists():
        print(f"dev.py: creating {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    print(f"dev.py: installing the {name} variant into {venv_dir} (first run only)", flush=True)
    for step in SIDE_VENVS[name]:
        run([str(bin_dir / "python"), "-m", "pip", *step])
    for old in venv_dir.glob(".installed-*"):
        old.unlink()
    stamp.touch()
    return bin_dir


def test(args: list[str]) -> None:
    """Lint, type-check, then the suite; a whole run (no pytest arguments) also runs the eventlet worker tests
    in their own venv, first, so that the suite's summary is the last line."""
    bin_dir = BIN
    if args[:2] == ["--driver", "scylla"]:
        args, bin_dir = args[2:], ensure_side_venv("scylla")
    else:
        ensure_venv("dev")
    run([str(bin_dir / "ruff"), "check", "src", "tests", "bench", "examples", "dev.py"])
    run([str(bin_dir / "ruff"), "format", "--check", "src", "tests", "bench", "examples", "dev.py"])
    run([str(bin_dir / "mypy")])
    if not args and bin_dir == BIN:
        run([str(ensure_side_venv("eventlet") / "python"), "-m", "pytest", *EVENTLET_TESTS])
    run([str(bin_dir / "python"), "-m", "pytest", *args])


def stress(args: list[str]) -> None:
    """Run the test suite ``--runs`` times in a row with ``--hogs`` busy-loop processes beside it (what a
    shared CI machine looks like); stop at the first failed run and say which one it was."""
    parser = argparse.ArgumentParser(prog="python3 dev.py stress", description=stress.__doc__)
    parser.add_argument("--runs", type=int, default=5, help="how many runs of the suite (default 5)")
    parser.add_argument("--hogs", type=int, default=2, help="busy-loop CPU hog processes beside it (default 2)")
    options, pytest_args = parser.parse_known_args(args)
    if options.runs < 1 or options.hogs < 0:
        parser.error("--runs must be at least 1 and --hogs at least 0")
    ensure_venv("dev")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so that `finally` runs
    hogs = start_hogs(options.hogs)
    try:
        for number in range(1, options.runs + 1):
            print(f"dev.py stress: run {number} of {options.runs}, {len(hogs)} CPU hog(s) beside it", flush=True)
            code = subprocess.run([str(PYTHON), "-m", "pytest", "-x", *pytest_args], cwd=ROOT, check=False).returncode
            if code != 0:
                print(f"dev.py stress: run {number} of {options.runs} FAILED (exit code {code})", flush=True)
                sys.exit(code)
        print(f"dev.py stress: {options.runs} of {options.runs} runs passed with {len(hogs)} CPU hog(s)", flush=True)
    finally:
        stop_hogs(hogs)


HOG = "while True:\n    pass\n"


def start_hogs(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that each keep one CPU busy until they are killed."""
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", HOG], stdin=subprocess.DEVNULL))
    except BaseException:
        stop_hogs(hogs)
        raise
    return hogs


def stop_hogs(hogs: list[subprocess.Popen[bytes]]) -> None:
    """Kill each hog by its own pid and reap it (also after a failure or Ctrl-C)."""
    for hog in hogs:
        if hog.poll() is None:
            hog.kill()
    for hog in hogs:
        hog.wait(10)


def wants_uwsgi(args: list[str]) -> bool:
    """``serve``/``demo`` ``--server uwsgi`` (or ``--server=uwsgi``)."""
    return "--server=uwsgi" in args or any(a == "--server" and b == "uwsgi" for a, b in zip(args, args[1:]))


def serve(args: list[str]) -> None:
    ensure_venv("serve,uwsgi" if wants_uwsgi(args) else "serve")
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "examples" / "webpy_app" / "serve.py"), *args])


def demo(args: list[str]) -> None:
    ensure_venv("serve,uwsgi" if wants_uwsgi(args) else "serve")  # the example's servers, no compiler by default
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "bench" / "demo.py"), *args])


def bench(args: list[str]) -> None:
    ensure_venv("dev,bench")
    os.execv(str(PYTHON), [str(PYTHON), str(ROOT / "bench" / "run_all.py"), *args])


COMMANDS = {"serve": serve, "test": test, "stress": stress, "demo": demo, "bench": bench}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
