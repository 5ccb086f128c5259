"""``cqlsh`` (the PyPI package, cqlsh 6) describes schemas on the CQL test server, as on a Cassandra 4 node.

cqlsh 6 sends ``DESCRIBE`` to any 4.x server and prints the ``create_statement`` column of the rows it gets back,
so this drives the server-side DESCRIBE end to end, in a real ``cqlsh`` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.target import Target

if TYPE_CHECKING:
    from wsgi_cassandra.testing import CQLServer

pytestmark = pytest.mark.integration

CQLSH = Path(sys.executable).parent / "cqlsh"

TABLE = """CREATE TABLE shop.orders (
    customer text,
    placed timestamp,
    id uuid,
    note text static,
    address frozen<addr>,
    total decimal,
    PRIMARY KEY (customer, placed, id)
) WITH CLUSTERING ORDER BY (placed DESC, id ASC)
    AND additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND cdc = false
    AND comment = 'orders by customer'
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', \
'max_threshold': '32', 'min_threshold': '4'}
    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}
    AND crc_check_chance = 1.0
    AND default_time_to_live = 0
    AND extensions = {}
    AND gc_grace_seconds = 864000
    AND max_index_interval = 2048
    AND memtable_flush_period_in_ms = 0
    AND min_index_interval = 128
    AND read_repair = 'BLOCKING'
    AND speculative_retry = '99p';"""

KEYSPACE = (
    "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"
    "  AND durable_writes = true;"
)
TYPE = "CREATE TYPE shop.addr (\n    street text,\n    zip int\n);"
INDEX = "CREATE INDEX orders_total ON shop.orders (total);"


@pytest.fixture
def shop(cql_server: CQLServer) -> CQLServer:
    with Target.for_server(cql_server).cluster() as cluster:
        session = cluster.connect()
        session.execute("CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TYPE shop.addr (street text, zip int)")
        session.execute(
            "CREATE TABLE shop.orders (customer text, placed timestamp, id uuid, total decimal, address frozen<addr>, "
            "note text static, PRIMARY KEY (customer, placed, id)) WITH CLUSTERING ORDER BY (placed DESC, id ASC) "
            "AND comment = 'orders by customer'"
        )
        session.execute("CREATE INDEX orders_total ON shop.orders (total)")
    return cql_server


def cqlsh(server: CQLServer, statement: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Runs ``cqlsh -e statement``; its version warning about the server release is dropped from stdout."""
    if not CQLSH.exists():
        pytest.skip(f"needs the cqlsh package next to {sys.executable} (pip install -e '.[test]')")
    env = {**os.environ, "HOME": str(home)}  # cqlsh keeps its history and config under $HOME
    done = subprocess.run(
        [str(CQLSH), server.host, str(server.port), "--no-color", "--connect-timeout", "20", "-e", statement],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if not line.startswith("WARNING: cqlsh was built against")]
    done.stdout = "\n".join(lines).strip()
    return done


def test_describe_keyspace_prints_keyspace_type_table_and_index(shop: CQLServer, tmp_path: Path) -> None:
    done = cqlsh(shop, "DESCRIBE KEYSPACE shop", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "\n\n".join([KEYSPACE, TYPE, TABLE, INDEX])


def test_describe_table_prints_the_table_and_its_index(shop: CQLServer, tmp_path: Path) -> None:
    done = cqlsh(shop, "DESCRIBE TABLE shop.orders", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "\n\n".join([TABLE, INDEX])


def test_describe_lists_keyspaces_and_tables(shop: CQLServer, tmp_path: Path) -> None:
    done = cqlsh(shop, "DESCRIBE KEYSPACES; USE shop; DESCRIBE TABLES", tmp_path)
    assert done.returncode == 0, done.stderr
    assert {"shop", "system", "system_schema"} <= set(done.stdout.split())
    assert done.stdout.split()[-1] == "orders"


def test_describe_of_a_missing_table_is_an_error(shop: CQLServer, tmp_path: Path) -> None:
    done = cqlsh(shop, "DESCRIBE TABLE shop.nosuch", tmp_path)
    assert done.returncode != 0
    assert "Table 'nosuch' not found in keyspace 'shop'" in done.stderr
