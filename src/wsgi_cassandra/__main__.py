"""The ``wsgi-cassandra`` command (also ``python -m wsgi_cassandra``).

::

    python -m wsgi_cassandra check      # settings, warmer, connect phases, cluster facts and advice

See :mod:`wsgi_cassandra.check` for what it prints and its exit status.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsgi-cassandra", description="wsgi-cassandra tools")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="check the CASSANDRA_* / WSGI_CASSANDRA_* configuration: connect once and report",
        description="Read the environment like the middleware, connect once, report phases, cluster facts and advice. "
        "Exit status: 0 connected, 1 cannot connect, 2 invalid configuration.",
    )
    check.add_argument("--verbose", action="store_true", help="show the driver's own log messages too")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "check":
        parser.print_help(sys.stderr)
        return 2
    from .check import run_check

    # The check reports failures itself, in one line; the driver's tracebacks only with --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("cassandra").setLevel(logging.CRITICAL)
    return run_check()


if __name__ == "__main__":
    sys.exit(main())
