"""Every bench still runs: each one in its quick mode (seconds, tiny counts), in its own process, must
exit 0 and print its table. Benches measure speed; this only keeps them from rotting (their figures in
quick mode mean nothing), and ``bench/run_all.py`` must say so when one fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

# bench file -> what its output must contain (a Markdown table, or the test server bench's own table)
BENCHES = [
    pytest.param("request_overhead", "| overhead ns |", id="request_overhead"),
    pytest.param("first_request", "| first request ms |", id="first_request"),
    pytest.param("throughput", "|---|", id="throughput"),
    pytest.param("warmup", "| configuration |", id="warmup"),
    pytest.param("boot_storm", "| peak concurrent handshakes |", id="boot_storm"),
    pytest.param("memory", "| library MB |", id="memory"),
    pytest.param("load_outage", "| worker pid |", id="load_outage"),
    pytest.param("recovery", "| reconnection |", id="recovery"),
    pytest.param("metrics_overhead", "| added ns |", id="metrics_overhead"),
    pytest.param("bench_testserver", "raw pipelined v4, no driver", id="bench_testserver"),
    pytest.param("demo", "first request", id="demo"),
]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(300),
    pytest.mark.skipif(bool(os.environ.get("CASSANDRA_CONTACT_POINTS")), reason="runs the benches embedded"),
]


def bench_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_", "BENCH_"))}


@pytest.mark.parametrize(("name", "table"), BENCHES)
def test_bench_runs_in_quick_mode_and_prints_its_table(name: str, table: str) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--quick"],
        cwd=BENCH,
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert table in result.stdout, output[-4000:]


def test_run_all_fails_when_a_bench_fails(tmp_path: Path) -> None:
    """A bench that crashes makes run_all exit non-zero, name it, and write no results."""
    broken = tmp_path / "bench"
    broken.mkdir()
    for source in BENCH.glob("*.py"):
        (broken / source.name).write_text(source.read_text())
    (broken / "memory.py").write_text("raise SystemExit('memory bench: broken on purpose')\n")
    (tmp_path / "tests").symlink_to(REPO / "tests")  # the shared harness the benches import
    docs = tmp_path / "docs"
    result = subprocess.run(
        [sys.executable, str(broken / "run_all.py"), "--only", "memory"],
        cwd=broken,
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: bench/memory.py" in result.stderr
    assert not docs.exists()
