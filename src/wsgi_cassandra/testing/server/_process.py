"""The CQL test server in a child process: ``python -m wsgi_cassandra.testing`` started, awaited, stopped.

In-process servers (:class:`CQLServer`) share the GIL with the code under test; a benchmark, a demo or a
test of several web workers wants the server in a process of its own::

    with ServerProcess() as server:              # 127.0.0.1, a free port, bounded start-up wait
        env = {"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}
        ...

The child runs in its own session, so a Ctrl-C meant for the parent does not stop the server before the
parent has stopped what uses it.
"""

from __future__ import annotations

import re
import selectors
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from ._node import CQLServerError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

__all__ = ["ServerProcess"]


class ServerProcess:
    """``python -m wsgi_cassandra.testing --host HOST --port 0 [args]``; ``port`` is known once started."""

    def __init__(
        self, host: str = "127.0.0.1", *, args: Sequence[str] = (), timeout: float = 15.0, python: str | None = None
    ) -> None:
        self.host = host
        self.port = 0
        self.args = tuple(args)
        self.timeout = timeout
        self.python = python or sys.executable
        self.proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise CQLServerError("the CQL test server process is not started")
        return self.proc.pid

    @property
    def contact_point(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> ServerProcess:
        """Start the child and wait (at most ``timeout``) for its "listening on HOST:PORT" line."""
        command = [self.python, "-m", "wsgi_cassandra.testing", "--host", self.host, "--port", "0", *self.args]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True
        )
        assert self.proc.stdout is not None
        line = ""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if selector.select(self.timeout):
                line = self.proc.stdout.readline()
        match = re.search(rf"listening on {re.escape(self.host)}:(\d+)", line)
        if match is None:
            self.stop()
            raise CQLServerError(
                f"the CQL test server did not start within {self.timeout:g} s (it said {line.strip()!r})"
            )
        self.port = int(match.group(1))
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; ``True`` if it stopped on SIGTERM. Idempotent."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return True
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
            return False
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
