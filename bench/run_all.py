"""Run every bench, print their tables, write docs/bench-results.md and the chart docs/bench.png.

    python bench/run_all.py [--only warmup,boot_storm] [--quick]      (or: python3 dev.py bench)

Each bench runs in its own process (a crash or a stuck server cannot take the others down) and hands its
table back through a JSON-lines file; the whole run takes a few minutes on a laptop. If any bench fails,
the others still run, nothing is written, and the exit code is 1 with the failed benches named.
``--quick`` runs each bench in its quick mode (seconds, tiny counts) and writes nothing either.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BENCH, ROOT, Result

BENCHES = [
    "request_overhead",
    "first_request",
    "throughput",
    "warmup",
    "boot_storm",
    "memory",
    "load_outage",
    "recovery",
    "metrics_overhead",
]
DOCS = ROOT / "docs"


def run(names: list[str], *, quick: bool = False) -> tuple[list[Result], list[str]]:
    """Run each bench in its own process; return the tables and the names of the benches that failed."""
    results: list[Result] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.jsonl"
        for name in names:
            print(f"== bench/{name}.py", flush=True)
            env = {**os.environ, "BENCH_RESULT_FILE": str(out)}
            command = [sys.executable, str(BENCH / f"{name}.py"), *(["--quick"] if quick else [])]
            code = subprocess.run(command, env=env, check=False).returncode
            if code != 0:
                print(f"bench/{name}.py failed with exit code {code}", file=sys.stderr, flush=True)
                failed.append(name)
        if out.exists():
            results = [Result(**json.loads(line)) for line in out.read_text().splitlines()]
    return results, failed


def write_markdown(results: list[Result]) -> None:
    target = os.environ.get("CASSANDRA_CONTACT_POINTS") or "the embedded CQL test server"
    header = (
        "# Latest benchmark results\n\n"
        f"Written by `python3 dev.py bench` on {datetime.date.today().isoformat()}: {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, against {target}. "
        "See docs/performance.md for what each bench measures.\n\n"
    )
    (DOCS / "bench-results.md").write_text(header + "\n".join(r.markdown() for r in results))


def write_chart(results: list[Result]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charted = [r for r in results if r.chart]
    if not charted:
        return
    fig, axes = plt.subplots(
        len(charted), 1, figsize=(10, 2.2 + 1.6 * len(charted) + sum(len(r.chart) for r in charted) * 0.28)
    )
    for ax, result in zip(axes if len(charted) > 1 else [axes], charted):
        labels = list(result.chart)
        values = [result.chart[label] for label in labels]
        ax.barh(
            labels,
            values,
            color=["#3b7dd8" if "library" in label or "fast" in label else "#999999" for label in labels],
        )
        ax.invert_yaxis()
        ax.set_title(result.title, fontsize=10, loc="left")
        ax.set_xlabel(result.chart_unit, fontsize=8)
        ax.tick_params(labelsize=7)
        for y, value in enumerate(values):
            ax.text(value, y, f" {value:,.3g}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(DOCS / "bench.png", dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated bench names: " + ", ".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="every bench in its quick mode; writes nothing")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else BENCHES
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench(es) {', '.join(unknown)}; accepted: {', '.join(BENCHES)}")
    results, failed = run(names, quick=args.quick)
    if failed:
        print(f"FAILED: {', '.join(f'bench/{name}.py' for name in failed)}; nothing written", file=sys.stderr)
        return 1
    if args.quick:
        print(f"all {len(names)} benches ran in quick mode; nothing written")
        return 0
    DOCS.mkdir(exist_ok=True)
    write_markdown(results)
    write_chart(results)
    print(f"wrote {DOCS / 'bench-results.md'} and {DOCS / 'bench.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
