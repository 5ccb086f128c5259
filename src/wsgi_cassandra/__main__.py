"""The ``wsgi-cassandra`` command (also ``python -m wsgi_cassandra``).

::

    python -m wsgi_cassandra check      # settings, warmer, connect phases, cluster facts and advice

See :mod:`wsgi_cassandra.check` for what it prints and its exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

CHECK_HELP = "check the CASSANDRA_* / WSGI_CASSANDRA_* configuration: connect once and report"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsgi-cassandra", description="wsgi-cassandra tools")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # The command parses its own options (wsgi-cassandra check --help); also `python -m wsgi_cassandra.check`.
    commands.add_parser("check", add_help=False, help=CHECK_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command != "check":
        parser.print_help(sys.stderr)
        return 2
    from .check import main as check

    return check(rest)


if __name__ == "__main__":
    sys.exit(main())
