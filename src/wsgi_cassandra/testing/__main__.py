"""Run the CQL test server stand-alone: ``python -m wsgi_cassandra.testing --port 9042 [--nodes 3]``.

Prints one line once every node listens, then serves until SIGINT or SIGTERM and stops cleanly, so
benchmarks, demos and non-Python clients can use it as a separate process.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .server import DEFAULT_RELEASE, CQLCluster, CQLServer, CQLServerError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wsgi_cassandra.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address of the single node (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9042, help="port, 0 for a free one (default 9042)")
    parser.add_argument("--nodes", type=int, default=1, help="nodes on 127.0.0.1..N (default 1)")
    parser.add_argument("--release", default=DEFAULT_RELEASE, help="Cassandra release to emulate, e.g. 3.11.17")
    parser.add_argument("--username", help="require PasswordAuthenticator with this user")
    parser.add_argument("--password", help="password of --username")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if (args.username is None) != (args.password is None):
        print("--username and --password go together", file=sys.stderr)
        return 2
    credentials = {args.username: args.password} if args.username is not None else None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if args.nodes > 1:
            cluster = CQLCluster(
                args.nodes, port=args.port, release_version=args.release, credentials=credentials
            ).start()
            where = ", ".join(f"{point}:{cluster.port}" for point in cluster.contact_points)
            stopper = cluster.stop
        else:
            server = CQLServer(args.host, args.port, release_version=args.release, credentials=credentials).start()
            where = server.contact_point
            stopper = server.stop
    except CQLServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"CQL test server listening on {where} (release {args.release})", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        stopper()
    return 0


if __name__ == "__main__":
    sys.exit(main())
