"""Run a function in a real ``os.fork()`` child and get its report back through a pipe (bounded)."""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any, Callable


def in_fork(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` in a real forked child; return what it reported (or its error) through a pipe."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.12+: "fork() with threads"
        child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            report = work()
        except BaseException as exc:
            report = {"error": repr(exc)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    try:
        deadline = time.monotonic() + 60
        for _ in range(10_000):
            chunk = os.read(read_end, 65536)
            if not chunk or time.monotonic() > deadline:
                break
            data += chunk
    finally:
        os.close(read_end)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    report: dict[str, Any] = json.loads(data)
    assert "error" not in report, report
    return report
