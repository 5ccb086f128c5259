"""dev.py, the project's entry point: what each command installs, the stress mode's bookkeeping, and the
message when uWSGI cannot be built. Narrow unit tests: pip and pytest runs are replaced by recorded results;
the CPU hogs are real processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import dev
import pytest


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], False, id="default-gunicorn"),
        pytest.param(["--server", "gunicorn"], False, id="gunicorn"),
        pytest.param(["--server", "uwsgi", "--port", "8080"], True, id="uwsgi"),
        pytest.param(["--server=uwsgi"], True, id="uwsgi-equals"),
        pytest.param(["--port", "uwsgi"], False, id="not-a-server-value"),
    ],
)
def test_serve_builds_uwsgi_only_when_asked(args: list[str], expected: bool) -> None:
    assert dev.wants_uwsgi(args) is expected


def extras() -> dict[str, list[str]]:
    tomllib = pytest.importorskip("tomllib", reason="reads pyproject.toml with tomllib (Python 3.11+)")
    with open(dev.ROOT / "pyproject.toml", "rb") as handle:
        project: dict[str, Any] = tomllib.load(handle)["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    return optional


def test_the_serve_extra_needs_no_compiler() -> None:
    serve = extras()["serve"]
    assert not any("uwsgi" in requirement.lower() for requirement in serve)
    assert "wsgi-cassandra[gunicorn]" in serve


def test_development_tools_are_pinned_and_runtime_dependencies_are_ranges() -> None:
    optional = extras()
    tools = [r for r in optional["test"] + optional["dev"] if r.split("=")[0].split(";")[0] in PINNED]
    assert {r.split("==")[0] for r in tools} == PINNED
    assert all("==" in requirement for requirement in tools)
    tomllib = pytest.importorskip("tomllib")
    with open(dev.ROOT / "pyproject.toml", "rb") as handle:
        runtime = tomllib.load(handle)["project"]["dependencies"]
    assert all(">=" in requirement and "==" not in requirement for requirement in runtime)


PINNED = {"pytest", "pytest-timeout", "mypy", "ruff"}


def test_a_failed_uwsgi_build_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()  # the venv exists; pip is what fails
    monkeypatch.setattr(dev, "VENV", venv)
    monkeypatch.setattr(dev, "BIN", venv / "bin")
    monkeypatch.setattr(dev, "PYTHON", venv / "bin" / "python")
    commands: list[list[str]] = []

    def pip(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, 1 if "-e" in command else 0)

    monkeypatch.setattr(dev.subprocess, "run", pip)
    with pytest.raises(SystemExit) as exited:
        dev.ensure_venv("dev")
    assert exited.value.code == 1
    assert any(".[dev]" in command for command in commands)
    message = capsys.readouterr().err
    assert "uWSGI could not be built" in message
    assert "apt-get install build-essential python3-dev" in message
    assert "`python3 dev.py serve` (Gunicorn) does not" in message


def test_each_set_of_extras_installs_once_until_pyproject_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    venv, project = tmp_path / ".venv", tmp_path / "project"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.setattr(dev, "ROOT", project)
    monkeypatch.setattr(dev, "VENV", venv)
    monkeypatch.setattr(dev, "BIN", venv / "bin")
    monkeypatch.setattr(dev, "PYTHON", venv / "bin" / "python")
    installs: list[str] = []

    def pip(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        installs.extend(arg for arg in command if arg.startswith(".["))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(dev.subprocess, "run", pip)
    for extras in ("serve", "dev", "serve", "dev"):  # dev.py serve, test, serve, test
        dev.ensure_venv(extras)
    assert installs == [".[serve]", ".[dev]"]
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '2'\n")
    dev.ensure_venv("dev")
    dev.ensure_venv("serve")
    assert installs == [".[serve]", ".[dev]", ".[dev]", ".[serve]"]
    assert len(list(venv.glob(".installed-*"))) == 2  # the stale ones are gone
    assert capsys.readouterr().out.count("installing wsgi-cassandra[") == 4


def test_stress_stops_at_the_first_failed_run_names_it_and_kills_the_hogs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(dev, "ensure_venv", lambda extras: None)
    monkeypatch.setattr(dev.signal, "signal", lambda signum, handler: None)  # leave pytest's handlers alone
    started: list[subprocess.Popen[bytes]] = []
    real_start = dev.start_hogs

    def start_hogs(count: int) -> list[subprocess.Popen[bytes]]:
        hogs = real_start(count)
        started.extend(hogs)
        return hogs

    runs: list[list[str]] = []

    def pytest_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        runs.append(command)
        assert all(hog.poll() is None for hog in started), "the hogs run beside every run"
        return subprocess.CompletedProcess(command, 0 if len(runs) == 1 else 3)

    monkeypatch.setattr(dev, "start_hogs", start_hogs)
    monkeypatch.setattr(dev.subprocess, "run", pytest_run)
    with pytest.raises(SystemExit) as exited:
        dev.stress(["--runs", "5", "--hogs", "2", "-k", "middleware"])

    assert exited.value.code == 3
    assert len(runs) == 2  # stopped at the first failure
    assert all(command[-3:] == ["-x", "-k", "middleware"] for command in runs)  # pytest arguments passed on
    assert "run 2 of 5 FAILED" in capsys.readouterr().out
    assert len(started) == 2
    assert all(hog.returncode is not None for hog in started)  # killed and reaped
    assert all(not os.path.exists(f"/proc/{hog.pid}") or _zombie_free(hog.pid) for hog in started)


def _zombie_free(pid: int) -> bool:
    """A pid reused by another process since: not one of our hogs any more."""
    try:
        return "while True" not in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return True
