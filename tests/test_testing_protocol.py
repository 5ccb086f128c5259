"""Wire-level behaviour of the CQL test server: frames, segments, version refusal, malformed input.

A raw socket client encodes requests and decodes answers with the driver's own codec
(``cassandra.protocol``, ``cassandra.segment``), so "the driver understands it" is what is checked.
"""

from __future__ import annotations

import inspect
import io
import socket
import struct
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

import pytest
from cassandra import ConsistencyLevel, cqltypes
from cassandra.cluster import Cluster
from cassandra.protocol import (
    ErrorMessage,
    EventMessage,
    OptionsMessage,
    ProtocolException,
    ProtocolHandler,
    QueryMessage,
    ReadyMessage,
    RegisterMessage,
    ResultMessage,
    StartupMessage,
    SupportedMessage,
)
from cassandra.segment import SegmentCodec

from wsgi_cassandra.testing import CQLServer
from wsgi_cassandra.testing.cql import AlreadyExists, Column, Engine, NodeInfo
from wsgi_cassandra.testing.protocol import responses as enc
from wsgi_cassandra.testing.protocol import segments
from wsgi_cassandra.testing.server import ERROR_NAMES, build_error, engine_error

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

HEADER = struct.Struct(">BBhBi")

# scylla-driver's codec (encode/decode_message, recv_body) takes the connection's negotiated protocol
# features (Scylla's SUPPORTED extensions) as an extra argument; cassandra-driver's has none. Detected,
# so either driver's codec works here.
_FEATURES: tuple[Any, ...] = ()
if "protocol_features" in inspect.signature(ProtocolHandler.encode_message).parameters:
    from cassandra.protocol_features import ProtocolFeatures  # scylla-driver only

    _FEATURES = (ProtocolFeatures(),)


Codec = Callable[[bytes], bytes]


def encode(msg: Any, stream: int, version: int, beta: bool = False, compressor: Codec | None = None) -> bytes:
    """One request frame, encoded by the installed driver's own codec (and compressor, if given)."""
    raw: bytes = ProtocolHandler.encode_message(msg, stream, version, compressor, beta, *_FEATURES)
    return raw


def decode(
    version: int, stream: int, flags: int, opcode: int, body: bytes, *, decompressor: Codec | None = None
) -> Any:
    """One response body, decoded by the installed driver's own codec (and decompressor, if given)."""
    return ProtocolHandler.decode_message(version, *_FEATURES, {}, stream, flags, opcode, body, decompressor, None)


class RawClient:
    """A minimal client: driver codec on a blocking socket, v5 segments once READY; with ``codec`` (the
    driver's compressor and decompressor) it reads compressed v3/v4 bodies, and compresses its own once
    ``compressing`` is set (the driver does after READY: STARTUP itself is never compressed)."""

    def __init__(self, port: int, version: int, codec: tuple[Codec, Codec] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.version = version
        self.segmented = False
        self.buffer = b""
        self.frames = b""
        self.codec = codec
        self.compressing = False
        self.last_flags = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, msg: Any, stream: int = 1, *, version: int | None = None, beta: bool = False) -> None:
        raw = encode(
            msg, stream, version or self.version, beta, self.codec[0] if self.compressing and self.codec else None
        )
        self.send_raw(raw)

    def send_raw(self, raw: bytes) -> None:
        if self.segmented:
            out = io.BytesIO()
            SegmentCodec().encode(out, raw)
            raw = out.getvalue()
        self.sock.sendall(raw)

    def _fill(self, n: int) -> None:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buffer += chunk

    def _take(self, n: int) -> bytes:
        self._fill(n)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _frame_bytes(self) -> bytes:
        if not self.segmented:
            head = self._take(9)
            return head + self._take(HEADER.unpack(head)[4])
        # A self-contained segment may hold several frames (the server packs a burst of answers together).
        while len(self.frames) < 9 or len(self.frames) < 9 + HEADER.unpack(self.frames[:9])[4]:
            self._fill(6)
            header = SegmentCodec().decode_header(io.BytesIO(self.buffer[:6]))
            data = io.BytesIO(self._take(header.segment_length))
            data.seek(6)
            self.frames += bytes(SegmentCodec().decode(data, header).payload)
        end = 9 + HEADER.unpack(self.frames[:9])[4]
        frame, self.frames = self.frames[:end], self.frames[end:]
        return frame

    def recv(self) -> tuple[int, Any]:
        raw = self._frame_bytes()
        version, flags, stream, opcode, _ = HEADER.unpack(raw[:9])
        assert version & 0x80, "response direction bit"
        self.last_flags = flags
        msg = decode(version & 0x7F, stream, flags, opcode, raw[9:], decompressor=self.codec[1] if self.codec else None)
        return stream, msg

    def handshake(self) -> None:
        self.send(StartupMessage(cqlversion="3.4.5", options={}))
        assert isinstance(self.recv()[1], ReadyMessage)
        self.segmented = self.version >= 5

    def closed_by_server(self, timeout: float = 5.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            for _ in range(1000):  # each recv waits at most ``timeout``; the server sends little before closing
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, socket.timeout):
            return False
        return False


@pytest.fixture
def server(cql_server: CQLServer) -> CQLServer:
    """The plugin's fresh test server (``cql_server``), under the short name these tests use."""
    return cql_server


@pytest.fixture
def raw(server: CQLServer) -> Iterator[RawClient]:
    client = RawClient(server.port, 5)
    yield client
    client.close()


def query(text: str) -> QueryMessage:
    return QueryMessage(text, ConsistencyLevel.ONE)


@pytest.mark.parametrize(
    ("release", "version", "beta", "fragment"),
    [
        pytest.param("4.1.5", 66, False, "unsupported protocol version (66)", id="4.x-dse-v2"),
        pytest.param("4.1.5", 65, False, "supported versions are (3/v3, 4/v4, 5/v5)", id="4.x-dse-v1"),
        pytest.param("3.11.17", 66, False, "unsupported protocol version (66)", id="3.11-dse-v2"),
        pytest.param("3.11.17", 5, False, "USE_BETA flag is unset", id="3.11-v5-without-beta"),
        pytest.param("4.1.5", 2, False, "unsupported protocol version (2)", id="too-old-v2"),
    ],
)
def test_unsupported_versions_get_the_error_the_driver_steps_down_on(
    release: str, version: int, beta: bool, fragment: str
) -> None:
    with CQLServer(release_version=release) as server:
        client = RawClient(server.port, version)
        try:
            client.send(OptionsMessage(), stream=0, beta=beta)
            if version < 3:  # v1/v2 header: 8 bytes, one-byte stream
                head = client._take(8)
                body = client._take(struct.unpack(">i", head[4:])[0])
                msg = decode(head[0] & 0x7F, head[2], head[1], head[3], body)
            else:
                _, msg = client.recv()
            assert isinstance(msg, ProtocolException)
            assert fragment in msg.message
            assert client.closed_by_server()
        finally:
            client.close()
        assert server.stats.snapshot().protocol_errors == 1


def test_options_lists_versions_and_compressions(raw: RawClient) -> None:
    raw.send(OptionsMessage(), stream=7)
    stream, msg = raw.recv()
    assert stream == 7
    assert isinstance(msg, SupportedMessage)
    assert msg.options["PROTOCOL_VERSIONS"] == ["3/v3", "4/v4", "5/v5"]
    assert msg.options["COMPRESSION"] == ["snappy", "lz4"]  # Cassandra 4.0's InitialConnectionHandler
    assert msg.cql_versions == ["3.4.5"]


def test_query_before_startup_is_a_protocol_error_on_a_live_connection(raw: RawClient) -> None:
    raw.send(query("SELECT * FROM system.local"), stream=3)
    stream, msg = raw.recv()
    assert (stream, type(msg)) == (3, ProtocolException)
    assert "expecting STARTUP or OPTIONS" in msg.message
    raw.handshake()  # the connection is still usable


@pytest.mark.parametrize(
    ("version", "asked", "message"),
    [
        pytest.param(4, "zstd", "Unknown compression algorithm: zstd", id="unknown"),
        pytest.param(4, "", "Unknown compression algorithm: ", id="empty"),
        pytest.param(5, "Snappy", "Snappy compression is not supported in protocol V5", id="snappy-v5"),
    ],
)
def test_startup_with_a_compression_the_node_refuses(server: CQLServer, version: int, asked: str, message: str) -> None:
    client = RawClient(server.port, version)
    try:
        client.send(StartupMessage(cqlversion="3.4.5", options={"COMPRESSION": asked}))
        _, msg = client.recv()
        assert isinstance(msg, ProtocolException)
        assert msg.message == message
        assert client.last_flags == 0  # nothing was negotiated: the error is not compressed
        client.handshake()  # the connection is still usable (STARTUP again, without compression)
    finally:
        client.close()
    assert server.stats.snapshot().compressions == {}


def _driver_compression(name: str) -> tuple[Codec, Codec]:
    """The driver's (compressor, decompressor) for ``name``; it has one when lz4 / python-snappy is installed."""
    from cassandra.connection import locally_supported_compressions

    if name not in locally_supported_compressions:
        pytest.skip(f"needs the {'lz4' if name == 'lz4' else 'python-snappy'} package (in the test extra)")
    codec: tuple[Codec, Codec] = locally_supported_compressions[name]
    return codec


@pytest.mark.parametrize("name", ["lz4", "snappy"])
def test_a_compressed_v4_connection_compresses_every_answer_from_ready_on(server: CQLServer, name: str) -> None:
    client = RawClient(server.port, 4, codec=_driver_compression(name))
    try:
        client.send(StartupMessage(cqlversion="3.4.5", options={"COMPRESSION": name.upper()}))
        _, ready = client.recv()
        assert isinstance(ready, ReadyMessage)
        assert client.last_flags & 0x01  # as Cassandra: READY already goes through the compressor
        client.compressing = True
        client.send(query("SELECT release_version FROM system.local"), stream=2)
        stream, result = client.recv()
        assert (stream, client.last_flags & 0x01) == (2, 0x01)
        assert isinstance(result, ResultMessage)
        assert result.parsed_rows[0][0] == server.release_version
        client.send(query("SELECT * FROM no_such_keyspace.t"), stream=3)
        _, error = client.recv()
        assert isinstance(error, ErrorMessage)
        assert client.last_flags & 0x01  # errors too
    finally:
        client.close()
    assert server.stats.snapshot().compressions == {name: 1}


def test_a_compressed_body_that_does_not_decode_is_a_protocol_error(server: CQLServer) -> None:
    client = RawClient(server.port, 4, codec=_driver_compression("lz4"))
    try:
        client.send(StartupMessage(cqlversion="3.4.5", options={"COMPRESSION": "lz4"}))
        assert isinstance(client.recv()[1], ReadyMessage)
        client.compressing = True
        body = b"\x00\x00\x00\x40" + b"\x1f" + b"abc"  # 64 bytes promised, a block that stops after 3
        client.send_raw(HEADER.pack(0x04, 0x01, 5, 0x07, len(body)) + body)
        stream, msg = client.recv()
        assert (stream, type(msg)) == (5, ProtocolException)
        assert "LZ4" in msg.message
        assert client.closed_by_server()
    finally:
        client.close()


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(HEADER.pack(0x84, 0, 1, 0x05, 0), id="response-direction-bit"),
        pytest.param(HEADER.pack(0x04, 0, 1, 0x05, -5), id="negative-length"),
        pytest.param(HEADER.pack(0x04, 0, 1, 0x07, 512 * 1024 * 1024), id="too-big"),
    ],
)
def test_malformed_frame_headers_get_a_protocol_error_then_close(server: CQLServer, frame: bytes) -> None:
    client = RawClient(server.port, 4)
    try:
        client.send_raw(frame)
        _, msg = client.recv()
        assert isinstance(msg, ProtocolException)
        assert client.closed_by_server()
    finally:
        client.close()


def test_truncated_body_gets_a_protocol_error_and_the_connection_stays(raw: RawClient) -> None:
    raw.handshake()
    body = struct.pack(">i", 1000) + b"SELECT"  # [long string] claims 1000 bytes, has 6
    raw.send_raw(HEADER.pack(5, 0, 9, 0x07, len(body)) + body)
    stream, msg = raw.recv()
    assert (stream, type(msg)) == (9, ProtocolException)
    raw.send(query("SELECT release_version FROM system.local"), stream=10)
    stream, msg = raw.recv()
    assert stream == 10
    assert isinstance(msg, ResultMessage)


def test_unknown_opcode_and_version_switch_are_refused(raw: RawClient) -> None:
    raw.handshake()
    raw.send_raw(HEADER.pack(5, 0, 4, 0x2A, 0))
    stream, msg = raw.recv()
    assert (stream, type(msg)) == (4, ProtocolException)
    assert "Unknown opcode 42" in msg.message
    raw.send(query("SELECT release_version FROM system.local"), stream=5, version=4)
    _, msg = raw.recv()
    assert isinstance(msg, ProtocolException)
    assert "Invalid message version" in msg.message


def test_v5_segment_with_a_bad_crc_is_fatal(raw: RawClient) -> None:
    raw.handshake()
    out = io.BytesIO()
    SegmentCodec().encode(out, encode(query("SELECT 1"), 2, 5))
    corrupted = bytearray(out.getvalue())
    corrupted[-1] ^= 0xFF
    raw.sock.sendall(bytes(corrupted))
    _, msg = raw.recv()
    assert isinstance(msg, ProtocolException)
    assert "CRC mismatch" in msg.message
    assert raw.closed_by_server()


def test_many_streams_multiplexed_in_one_write_are_each_answered(raw: RawClient) -> None:
    raw.handshake()
    frames = b"".join(encode(query("SELECT release_version FROM system.local"), s, 5) for s in range(100, 150))
    out = io.BytesIO()
    SegmentCodec().encode(out, frames)  # one segment holding 50 frames
    raw.sock.sendall(out.getvalue())
    streams = set()
    for _ in range(50):
        stream, msg = raw.recv()
        assert isinstance(msg, ResultMessage)
        assert msg.parsed_rows[0][0] == "4.1.5"
        streams.add(stream)
    assert streams == set(range(100, 150))


def test_registered_connection_receives_schema_change_events(server: CQLServer, raw: RawClient) -> None:
    raw.handshake()
    raw.send(RegisterMessage(event_list=["SCHEMA_CHANGE"]), stream=1)
    assert isinstance(raw.recv()[1], ReadyMessage)
    client = Cluster(contact_points=["127.0.0.1"], port=server.port)
    try:
        client.connect().execute(
            "CREATE KEYSPACE evks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
    finally:
        client.shutdown()
    deadline = time.monotonic() + 5
    for _ in range(20):
        stream, msg = raw.recv()
        if isinstance(msg, EventMessage):
            break
        assert time.monotonic() < deadline
    assert stream == -1
    assert msg.event_type == "SCHEMA_CHANGE"
    assert msg.event_args == {"target_type": "KEYSPACE", "change_type": "CREATED", "keyspace": "evks"}


@pytest.mark.parametrize("size", [0, 10, segments.MAX_PAYLOAD, 300_000])
def test_segments_match_the_driver_codec(size: int) -> None:
    payload = bytes(range(256)) * (size // 256 + 1)
    payload = payload[:size]
    theirs = io.BytesIO()
    SegmentCodec().encode(theirs, payload)
    assert segments.encode(payload) == theirs.getvalue()
    raw, out = bytearray(theirs.getvalue()), bytearray()
    segments.decode(raw, out)
    assert (bytes(out), raw) == (payload, bytearray())


@pytest.mark.parametrize(
    ("sizes", "segment_count"),
    [
        pytest.param([100] * 50, 1, id="a-burst-in-one-segment"),
        pytest.param([100_000, 100_000], 2, id="no-segment-over-the-limit"),
        pytest.param([10, 300_000, 10], 5, id="a-big-frame-alone-in-its-parts"),
    ],
)
def test_pack_puts_whole_frames_in_self_contained_segments(sizes: list[int], segment_count: int) -> None:
    frames = [bytes([i]) * size for i, size in enumerate(sizes)]
    raw, out = bytearray(segments.pack(frames)), bytearray()
    count = 0
    while raw:  # one segment at a time: header (3 + CRC24 3), payload, CRC32 (4)
        end = 6 + (int.from_bytes(raw[:3], "little") & segments.MAX_PAYLOAD) + 4
        segment = raw[:end]
        del raw[:end]
        segments.decode(segment, out)
        count += 1
    assert bytes(out) == b"".join(frames)
    assert count == segment_count


@pytest.mark.parametrize(
    "cqltype",
    [
        cqltypes.Int32Type,
        cqltypes.UTF8Type,
        cqltypes.TimeUUIDType,
        cqltypes.ListType.apply_parameters((cqltypes.LongType,)),
        cqltypes.MapType.apply_parameters((cqltypes.UTF8Type, cqltypes.SetType.apply_parameters((cqltypes.UUIDType,)))),
        cqltypes.TupleType.apply_parameters((cqltypes.Int32Type, cqltypes.BytesType)),
        cqltypes.UserType.make_udt_class("ks", "address", ("street", "zip"), (cqltypes.UTF8Type, cqltypes.Int32Type)),
    ],
    ids=lambda t: t.cql_parameterized_type(),
)
@pytest.mark.parametrize("version", [3, 4, 5])
def test_type_options_decode_to_the_same_driver_type(cqltype: Any, version: int) -> None:
    opcode, body = enc.rows([Column("ks", "t", "c", cqltype)], [], version)
    result = ResultMessage.recv_body(io.BytesIO(body), version, *_FEATURES, {}, None, None)
    ((_, _, name, decoded),) = result.column_metadata
    assert (opcode, name) == (0x08, "c")
    expected = cqltype.cql_parameterized_type().replace("text", "varchar")  # a node sends UTF8Type as varchar
    assert decoded.cql_parameterized_type() == expected


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_every_error_name_decodes_to_the_driver_error_with_its_fields(name: str) -> None:
    exc = build_error(name, "boom", query_id=b"\x01\x02")
    opcode, body = enc.error(exc)
    msg = ErrorMessage.recv_body(io.BytesIO(body), 5, *_FEATURES)
    assert (opcode, msg.code, msg.message) == (0x00, exc.code, "boom")
    assert type(msg).__name__ == DRIVER_ERRORS[name]
    if name == "read_timeout":
        assert msg.info == {
            "consistency": 1,
            "received_responses": 0,
            "required_responses": 1,
            "data_retrieved": False,
        }
    if name == "unavailable":
        assert msg.info == {"consistency": 1, "required_replicas": 1, "alive_replicas": 0}
    if name == "unprepared":
        assert msg.info == b"\x01\x02"


# What the driver decodes each injected error as (cassandra.protocol's ErrorMessage subclasses).
DRIVER_ERRORS = {
    "server_error": "ServerError",
    "protocol_error": "ProtocolException",
    "bad_credentials": "BadCredentials",
    "unavailable": "UnavailableErrorMessage",
    "overloaded": "OverloadedErrorMessage",
    "is_bootstrapping": "IsBootstrappingErrorMessage",
    "truncate_error": "TruncateError",
    "write_timeout": "WriteTimeoutErrorMessage",
    "read_timeout": "ReadTimeoutErrorMessage",
    "syntax_error": "SyntaxException",
    "unauthorized": "UnauthorizedErrorMessage",
    "invalid": "InvalidRequestException",
    "config_error": "ConfigurationException",
    "already_exists": "AlreadyExistsException",
    "unprepared": "PreparedQueryNotFound",
}


def test_engine_errors_are_answered_with_their_code() -> None:
    engine, node = Engine(), NodeInfo("127.0.0.1", 9042, uuid.uuid4(), ("0",))
    create = "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
    engine.execute(create, keyspace=None, node=node, protocol_version=5)
    with pytest.raises(AlreadyExists) as caught:
        engine.execute(create, keyspace=None, node=node, protocol_version=5)
    _, body = enc.error(engine_error(caught.value))
    msg = ErrorMessage.recv_body(io.BytesIO(body), 5, *_FEATURES)
    assert (type(msg).__name__, msg.info) == ("AlreadyExistsException", {"keyspace": "ks", "table": ""})


def test_wait_for_is_bounded(server: CQLServer) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="connections_opened is 0"):
        server.stats.wait_for("connections_opened", 3, timeout=0.2)
    assert time.monotonic() - started < 1.0
