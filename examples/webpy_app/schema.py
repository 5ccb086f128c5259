"""Create the example's keyspace and table, and a few rows, if they are not there yet.

Run it once before serving (``serve.py`` does): ``python schema.py`` uses the same ``CASSANDRA_*``
environment variables as the middleware. It only ever adds what is missing, so running it again is safe.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from greetings import KEYSPACE

if TYPE_CHECKING:
    from cassandra.cluster import Session

GREETINGS = (
    (1, "Hello from Cassandra!"),
    (2, "This session was built after the fork, before the first request."),
    (3, "Every worker prepared this query once, not once per request."),
)


def seed(session: Session) -> None:
    """Create the keyspace, the table and the rows that are missing (replication factor 1: a demo)."""
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} "
        "WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    )
    session.execute(f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.greetings (id int PRIMARY KEY, message text)")
    insert = session.prepare(f"INSERT INTO {KEYSPACE}.greetings (id, message) VALUES (?, ?) IF NOT EXISTS")
    for row in GREETINGS:
        session.execute(insert, row)


def main() -> int:
    from cassandra.cluster import Cluster

    from wsgi_cassandra.config import Settings
    from wsgi_cassandra.driver import cluster_kwargs

    cluster = Cluster(**cluster_kwargs(Settings.resolve({})))
    try:
        seed(cluster.connect())
    finally:
        cluster.shutdown()
    print(f"schema ready: {KEYSPACE}.greetings with {len(GREETINGS)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
