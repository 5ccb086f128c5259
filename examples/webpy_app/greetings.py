"""The example's data: one table, one query, and the page that shows its rows.

Shared by ``app.py`` (the right way) and ``naive.py`` (connect per request, for the demo), so that the
two differ only in where the session and the prepared statement come from.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cassandra.cluster import Session
    from cassandra.query import PreparedStatement

KEYSPACE = "wsgi_cassandra_example"
SELECT = f"SELECT id, message FROM {KEYSPACE}.greetings"


def render(session: Session, statement: PreparedStatement, *, how: str) -> str:
    """The page: the rows read through ``session``, which worker served them, and how long the query took."""
    started = time.perf_counter()
    rows = sorted(session.execute(statement), key=lambda row: row.id)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    lines = [
        f"wsgi-cassandra web.py example -- worker pid {os.getpid()} ({how})",
        f"{len(rows)} greetings from Cassandra, read with a prepared statement in {elapsed_ms:.1f} ms:",
        "",
    ]
    lines += [f"  {row.id}. {row.message}" for row in rows]
    return "\n".join(lines) + "\n"
