"""Serve the web.py example under a real pre-fork server with two warmed workers (``python3 dev.py serve``).

    python3 dev.py serve                      # Gunicorn on http://127.0.0.1:8000
    python3 dev.py serve --server uwsgi --port 8080

Without ``CASSANDRA_CONTACT_POINTS`` it starts the project's CQL test server on a free 127.0.0.1 port
(a subprocess); with it, it uses that cluster. Either way it creates the example's schema, starts the
server, and the workers' logs show each session becoming ready and how long it took. Ctrl-C or SIGTERM
stops the server, its workers and the test server.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import TYPE_CHECKING, NoReturn

from launch import (
    SERVERS,
    LaunchError,
    WebServer,
    port_in_use,
    seed_schema,
    start_test_server,
    start_web,
    stop,
    wait_for_workers,
)

if TYPE_CHECKING:
    import subprocess
    from types import FrameType


class Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM, so that ``finally`` blocks stop the children."""


def _on_signal(signum: int, frame: FrameType | None) -> NoReturn:
    raise Stop(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"serve: {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 dev.py serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=SERVERS, default="gunicorn", help="pre-fork server (default gunicorn)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    args = parser.parse_args(argv)
    if port_in_use(args.host, args.port):
        _say(f"{args.host}:{args.port} is already in use (another server?); choose another: --port {args.port + 1}")
        return 1
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    test_server: subprocess.Popen[str] | None = None
    web: WebServer | None = None
    env = dict(os.environ)
    try:
        if env.get("CASSANDRA_CONTACT_POINTS"):
            _say(f"using the Cassandra cluster at {env['CASSANDRA_CONTACT_POINTS']}")
        else:
            test_server, port = start_test_server()
            env.update(CASSANDRA_CONTACT_POINTS="127.0.0.1", CASSANDRA_PORT=str(port))
            _say(f"started the embedded CQL test server on 127.0.0.1:{port} (pid {test_server.pid})")
            if not env.get("CASSANDRA_PROTOCOL_VERSION"):
                # It speaks v5 like Cassandra 4: pinned, the driver skips its step-down from DSE's v66 (and
                # the warnings it logs). For a real cluster, `python -m wsgi_cassandra check` says what to pin.
                env["CASSANDRA_PROTOCOL_VERSION"] = "5"
                _say("pinned CASSANDRA_PROTOCOL_VERSION=5 for it (python -m wsgi_cassandra check tells yours)")
        seed_schema(env)
        _say("schema ready: wsgi_cassandra_example.greetings")
        web = start_web(args.server, env, host=args.host, port=args.port, ready_path="/healthz")
        ready = wait_for_workers(web, count=2, timeout=20.0)
        if len(ready) < 2:
            _say(f"only {len(ready)} of 2 workers reported a ready session so far; serving anyway")
        _say(f"{args.server} (pid {web.proc.pid}) serves the example on {web.url} with 2 workers; Ctrl-C stops all")
        web.proc.wait()
        _say(f"{args.server} exited with status {web.proc.returncode}")
        return web.proc.returncode or 1
    except Stop as exc:
        _say(f"{exc}: stopping")
        return 0
    except LaunchError as exc:
        _say(str(exc))
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stop the children without being interrupted again
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if web is not None:
            _say(f"{args.server} stopped" if stop(web.proc) else f"{args.server} did not stop in time: killed")
        if test_server is not None:
            stop(test_server)
            _say("CQL test server stopped")


if __name__ == "__main__":
    sys.exit(main())
