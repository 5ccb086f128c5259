"""Frame compression of the CQL test server: its pure-Python LZ4 and Snappy codecs checked against the real
libraries (``lz4.block``, ``python-snappy``), v5 LZ4 segments against the driver's own segment codec, and the
unmodified driver connecting with ``compression='lz4'``/``'snappy'`` at v4 and v5 over real sockets.
"""

from __future__ import annotations

import io
import logging
import os
import random
import struct
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import driver
from wsgi_cassandra.testing.protocol import compression, segments
from wsgi_cassandra.testing.protocol.compression import CompressionError

if TYPE_CHECKING:
    from wsgi_cassandra.testing import CQLServer


def _library(name: str, package: str) -> Any:
    """The real library a test checks against (both are in the test extra); the test is skipped without it."""
    return pytest.importorskip(name, reason=f"needs {package} (in the test extra) to check against")


@pytest.fixture
def lz4_block() -> Any:
    return _library("lz4.block", "the lz4 package")


@pytest.fixture
def snappy() -> Any:
    return _library("snappy", "python-snappy")


_RNG = random.Random(20261130)


def _text_rows(count: int) -> bytes:
    """Something like a RESULT body: rows of repeated structure with varying values."""
    rows = (
        f'{{"id": {i}, "name": "user-{i:05d}", "email": "user{i}@example.org", "active": true}}' for i in range(count)
    )
    return "\n".join(rows).encode()


def _mixed(size: int) -> bytes:
    """Random bytes with copies of earlier parts spliced in: matches at every distance and length."""
    out = bytearray(os.urandom(64))
    for _ in range(size):  # each round adds at least one byte
        if len(out) >= size:
            break
        if _RNG.random() < 0.5:
            out += os.urandom(_RNG.randrange(1, 40))
        else:
            start = _RNG.randrange(len(out))
            out += out[start : start + _RNG.randrange(4, 300)]
    return bytes(out[:size])


PAYLOADS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"x", id="one-byte"),
    pytest.param(b"abcabcabcab", id="11-bytes"),
    pytest.param(b"a" * 12, id="12-bytes-no-match-allowed"),
    pytest.param(b"a" * 13, id="13-bytes-first-match"),
    pytest.param(os.urandom(15), id="15-literals"),
    pytest.param(os.urandom(16), id="16-literals"),
    pytest.param(os.urandom(270), id="270-literals"),
    pytest.param(os.urandom(271), id="271-literals"),
    pytest.param(os.urandom(70_000), id="incompressible-70k"),
    pytest.param(b"z" * 100_000, id="run-overlapping-offset-1"),
    pytest.param(b"abc" * 5000, id="run-overlapping-offset-3"),
    pytest.param(os.urandom(300) + b"q" * 300 + os.urandom(20), id="literals-then-long-match"),
    pytest.param(bytes(range(256)) * 300, id="offset-256-long-matches"),
    pytest.param(os.urandom(70_000)[:66_000] * 2, id="match-beyond-64k-window"),
    pytest.param(_text_rows(2000), id="json-rows"),
    pytest.param(_mixed(50_000), id="mixed-matches"),
]


@pytest.mark.parametrize("data", PAYLOADS)
def test_lz4_round_trips_with_the_lz4_package(lz4_block: Any, data: bytes) -> None:
    ours = compression.lz4_compress(data)
    assert lz4_block.decompress(ours, uncompressed_size=len(data)) == data
    assert compression.lz4_decompress(ours, len(data)) == data
    for mode in ("default", "high_compression"):
        theirs = lz4_block.compress(data, store_size=False, mode=mode)
        assert compression.lz4_decompress(theirs, len(data)) == data


@pytest.mark.parametrize("data", PAYLOADS)
def test_snappy_round_trips_with_python_snappy(snappy: Any, data: bytes) -> None:
    ours = compression.snappy_compress(data)
    assert snappy.decompress(ours) == data
    assert compression.snappy_decompress(ours) == data
    assert compression.snappy_decompress(snappy.compress(data)) == data


def test_random_payloads_round_trip_both_ways(lz4_block: Any, snappy: Any) -> None:
    for _ in range(200):
        alphabet = _RNG.choice([b"ab", b"abcdefgh", bytes(range(256))])
        data = bytes(_RNG.choice(alphabet) for _ in range(_RNG.randrange(0, 2000)))
        assert lz4_block.decompress(compression.lz4_compress(data), uncompressed_size=len(data)) == data
        assert compression.lz4_decompress(lz4_block.compress(data, store_size=False), len(data)) == data
        assert snappy.decompress(compression.snappy_compress(data)) == data
        assert compression.snappy_decompress(snappy.compress(data)) == data


def test_the_encoders_do_compress_what_repeats() -> None:
    data = _text_rows(500)
    assert len(compression.lz4_compress(data)) < len(data) // 3
    assert len(compression.snappy_compress(data)) < len(data) // 3


def test_v4_bodies_are_what_the_driver_reads_and_writes(lz4_block: Any, snappy: Any) -> None:
    from cassandra.connection import locally_supported_compressions

    data = _text_rows(300)
    for name in ("lz4", "snappy"):
        driver_compress, driver_decompress = locally_supported_compressions[name]
        assert driver_decompress(compression.compress_body(name, data)) == data
        assert compression.decompress_body(name, driver_compress(data)) == data
    # lz4: a 4-byte big-endian uncompressed length first (Cassandra's Compressor.LZ4Compressor)
    assert compression.compress_body("lz4", data)[:4] == struct.pack(">I", len(data))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        pytest.param("lz4", b"\x00\x00", "does not appear to be LZ4 compressed", id="lz4-short"),
        pytest.param("lz4", b"\x00\x00\x00\x05" + b"\x30ab", "LZ4 literals run past the end", id="lz4-truncated"),
        pytest.param("lz4", b"\x00\x00\x00\x08" + b"\x10a\x05\x00", "Invalid match offset 5", id="lz4-offset"),
        pytest.param("lz4", b"\x00\x00\x00\x09" + b"\x50abcde", "decodes to 5 bytes, expected 9", id="lz4-size"),
        pytest.param("lz4", b"\x02\x00\x00\x00\x00", "no greater than native_transport_max_frame_size", id="lz4-huge"),
        pytest.param("snappy", b"\x05\x08ab", "Snappy literal runs past the end", id="snappy-truncated"),
        pytest.param("snappy", b"\x08\x00a\x01\x09", "Invalid match offset 9", id="snappy-offset"),
        pytest.param(
            "snappy", b"\xff\xff\xff\xff\x0f", "no greater than native_transport_max_frame_size", id="snappy-huge"
        ),
    ],
)
def test_bodies_that_do_not_decode_raise(name: str, data: bytes, message: str) -> None:
    with pytest.raises(CompressionError, match=message):
        compression.decompress_body(name, data)


@pytest.mark.parametrize(
    ("asked", "version", "result"),
    [
        pytest.param("lz4", 4, "lz4", id="lz4-v4"),
        pytest.param("LZ4", 5, "lz4", id="lz4-v5-any-case"),
        pytest.param("snappy", 3, "snappy", id="snappy-v3"),
        pytest.param("snappy", 5, "Snappy compression is not supported in protocol V5", id="snappy-v5"),
        pytest.param("Deflate", 4, "Unknown compression algorithm: deflate", id="unknown"),
    ],
)
def test_negotiation_is_cassandras(asked: str, version: int, result: str) -> None:
    if " " not in result:
        assert compression.negotiate(asked, version) == result
        return
    with pytest.raises(CompressionError) as raised:
        compression.negotiate(asked, version)
    assert str(raised.value) == result


# -- v5 segments --------------------------------------------------------------------------------------------
def _driver_segments(raw: bytes) -> bytes:
    """Decode LZ4 segments with the driver's own SegmentCodec (what a driver connection does)."""
    from cassandra.connection import segment_codec_lz4

    buf, out = io.BytesIO(raw), b""
    for _ in range(len(raw)):
        if buf.tell() == len(raw):
            return out
        header = segment_codec_lz4.decode_header(buf)
        out += bytes(segment_codec_lz4.decode(buf, header).payload)
    raise AssertionError("segments did not end")


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"\x84\x00\x00\x01\x02\x00\x00\x00\x00", id="ready-not-worth-compressing"),
        pytest.param(_text_rows(100), id="one-compressed-segment"),
        pytest.param(_text_rows(5000), id="several-parts"),
        pytest.param(os.urandom(200_000), id="incompressible-parts"),
    ],
)
def test_lz4_segments_are_what_the_driver_reads_and_writes(lz4_block: Any, frame: bytes) -> None:
    from cassandra.connection import segment_codec_lz4

    raw = segments.encode(frame, lz4=True)
    assert _driver_segments(raw) == frame
    back = bytearray()
    segments.decode(bytearray(raw), back, lz4=True)
    assert bytes(back) == frame
    written = io.BytesIO()
    segment_codec_lz4.encode(written, frame)
    back = bytearray()
    segments.decode(bytearray(written.getvalue()), back, lz4=True)
    assert bytes(back) == frame


def test_a_segment_lz4_would_not_shrink_goes_as_it_is() -> None:
    data = os.urandom(1000)
    raw = segments.encode(data, lz4=True)
    header = int.from_bytes(raw[:5], "little")
    assert (header & 0x1FFFF, (header >> 17) & 0x1FFFF) == (1000, 0)  # "uncompressed length 0": not compressed
    assert raw[8:1008] == data
    text = _text_rows(100)
    header = int.from_bytes(segments.encode(text, lz4=True)[:5], "little")
    assert (header >> 17) & 0x1FFFF == len(text) > header & 0x1FFFF


# -- the real driver over real sockets ----------------------------------------------------------------------
def _driver_connections(cluster: Any, session: Any) -> list[Any]:
    """The control connection and every pooled one (scylla-driver keeps one per shard in a dict)."""
    conns = [cluster.control_connection._connection]
    for pool in session._pools.values():
        many = getattr(pool, "_connections", None)
        if isinstance(many, dict):
            conns.extend(many.values())
        elif many:
            conns.extend(many)
        else:
            conns.append(getattr(pool, "_connection", None))
    return [conn for conn in conns if conn is not None]


@pytest.mark.parametrize(
    ("name", "version"),
    [
        pytest.param("lz4", 4, id="lz4-v4"),
        pytest.param("lz4", 5, id="lz4-v5"),
        pytest.param("snappy", 4, id="snappy-v4"),
        pytest.param("lz4", 3, id="lz4-v3"),
    ],
)
def test_the_driver_reads_and_writes_large_rows_compressed(cql_server: CQLServer, name: str, version: int) -> None:
    from cassandra.query import SimpleStatement

    _library("lz4.block" if name == "lz4" else "snappy", "the lz4 package" if name == "lz4" else "python-snappy")
    blobs = {i: os.urandom(1500) * 3 + _text_rows(40 + i) for i in range(30)}  # several KB each, compressible
    with driver(cql_server, compression=name, protocol_version=version) as cluster:
        session = cluster.connect()
        session.execute("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE ks.blobs (id int PRIMARY KEY, data blob, note text)")
        insert = session.prepare("INSERT INTO ks.blobs (id, data, note) VALUES (?, ?, ?)")
        for key, blob in blobs.items():
            session.execute(insert, (key, blob, blob[-2000:].decode()))
        select = session.prepare("SELECT data FROM ks.blobs WHERE id = ?")
        assert session.execute(select, (7,)).one().data == blobs[7]
        paged = session.execute(SimpleStatement("SELECT id, data, note FROM ks.blobs", fetch_size=4))
        rows = {row.id: (row.data, row.note) for row in paged}
        assert rows == {key: (blob, blob[-2000:].decode()) for key, blob in blobs.items()}
        conns = _driver_connections(cluster, session)
        assert conns
        assert all(conn.protocol_version == version for conn in conns)
        if version >= 5:  # the segments carry LZ4 blocks
            assert all(conn._segment_codec.compression for conn in conns)
        else:
            assert all(conn.compressor is not None and conn.decompressor is not None for conn in conns)
    stats = cql_server.stats.snapshot()
    assert stats.startups >= 2  # the control connection and the pool's
    assert stats.compressions == {name: stats.startups}
    assert stats.protocol_errors == 0


def test_snappy_at_v5_is_not_asked_for_by_the_driver(cql_server: CQLServer) -> None:
    _library("snappy", "python-snappy")  # scylla-driver refuses compression="snappy" without it
    # The driver knows v5 allows only lz4 and connects uncompressed; the node would refuse snappy (see
    # test_testing_protocol.py's test_startup_with_a_compression_the_node_refuses).
    with driver(cql_server, compression="snappy", protocol_version=5) as cluster:
        cluster.connect().execute("SELECT * FROM system.local")
    assert cql_server.stats.snapshot().compressions == {}


def test_the_default_driver_negotiates_lz4_and_logs_no_error(
    cql_server: CQLServer, caplog: pytest.LogCaptureFixture
) -> None:
    _library("lz4.block", "the lz4 package")
    caplog.set_level(logging.DEBUG, logger="cassandra")
    with driver(cql_server) as cluster:  # compression=True: the first the driver has, lz4
        session = cluster.connect()
        assert session.execute("SELECT release_version FROM system.local").one()[0] == cql_server.release_version
    stats = cql_server.stats.snapshot()
    assert stats.compressions == {"lz4": stats.startups}
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert not [r for r in caplog.records if "No available compression types" in r.getMessage()]
