"""One client connection: byte stream -> frames -> handshake state machine -> answers, on the server loop.

The first frame fixes the protocol version (or is refused the way Cassandra refuses it, which makes the
driver step down); OPTIONS/STARTUP/AUTH_RESPONSE bring the connection to ready (the state machine is
:class:`~.dispatch.Dispatcher`), and from then on in v5 both directions use checksummed segments.
When STARTUP asked for compression, every answer from STARTUP's own on is compressed as Cassandra 4.0
does it (v3/v4: each frame body, flag 0x01; v5: each segment, lz4 only), and compressed requests are
read back (:mod:`..protocol.compression`).
Requests are answered in order of arrival unless a fault delays one, which is then answered later on
its own stream id, as a busy node would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Protocol

from ..protocol import compression, frames, segments
from ..protocol import responses as enc
from ..protocol.requests import Malformed
from ._dispatch import Dispatcher
from ._faults import Faults, Rule, build_error, request_query_id, request_texts

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._hub import EventHub
    from ._queries import QueryRunner
    from ._stats import Stats

log = logging.getLogger(__name__)


class ServerSide(Protocol):
    """What a connection needs from its server."""

    release_version: str
    credentials: Mapping[str, str] | None
    faults: Faults
    stats: Stats
    hub: EventHub
    queries: QueryRunner | None


class Connection(asyncio.Protocol):
    """One client connection; ``open_conns`` is the listener's set of them (joined when made, left when lost)."""

    def __init__(self, node: ServerSide, open_conns: set[Connection]) -> None:
        self._node = node
        self._open_conns = open_conns
        self._transport: asyncio.Transport | None = None
        self._raw = bytearray()
        self._framebuf = bytearray()
        self._segmented = False
        self._lz4_segments = False  # v5 with COMPRESSION lz4: segments carry LZ4 blocks
        self._closing = False
        self._requests = Dispatcher(node)
        self.version: int | None = None
        self.peer: tuple[str, int] = ("", 0)

    # -- asyncio callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer = (str(peer[0]), int(peer[1]))
        self._node.stats.connection_opened(self.peer)
        self._open_conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.close()  # a no-op on Python 3.11+; before, a lost TLS transport stays marked open
        self._node.stats.connection_closed()
        self._open_conns.discard(self)

    def eof_received(self) -> bool | None:
        return None  # the client closed its side: close ours too

    def data_received(self, data: bytes) -> None:
        if self._closing or self._node.faults.black_holed:
            return
        self._raw += data
        out = segments.Outbox(self._lz4_segments)
        try:
            self._process(out)
        except frames.FrameError as exc:
            self._refuse(out, exc.message, exc.stream, exc.version or self.version or 4)
        except segments.SegmentError as exc:
            self._refuse(out, str(exc), 0, self.version or 5)
        if out and self._transport is not None:
            self._transport.write(out.data())  # one write per read: the answers to a burst go out together
        if self._closing:
            self._close_gracefully()

    # -- framing -----------------------------------------------------------------------------------
    def _process(self, out: segments.Outbox) -> None:
        while not self._closing:
            if self._segmented:
                if self._raw:
                    segments.decode(self._raw, self._framebuf, self._lz4_segments)
                buf = self._framebuf
            else:
                buf = self._raw
            head = frames.peek_version(buf)
            if head is None:
                return
            version, stream = head
            if self.version is None:
                refused = frames.version_error(version, buf[1] if len(buf) > 1 else 0, self._release)
                if refused is not None:
                    raise frames.FrameError(refused[0], stream=stream, version=refused[1])
                self.version = version
            elif version != self.version:
                raise frames.FrameError(
                    f"Invalid message version. Got {version} but previous messages on this connection"
                    f" had version {self.version}",
                    stream=stream,
                )
            frame, end = frames.cut(buf, 0)
            if frame is None:
                return
            del buf[:end]
            self._handle(frame, out)

    @property
    def _release(self) -> str:
        return self._node.release_version

    @property
    def compression(self) -> str | None:
        """The algorithm STARTUP negotiated ("lz4", "snappy"), or None."""
        return self._requests.compression

    def _frame(self, version: int, stream: int, response: enc.Response) -> bytes:
        algorithm = self._requests.compression
        if algorithm is None or version >= 5 or version != self.version:
            return frames.encode(version, stream, response[0], response[1])
        # v3/v4: Cassandra compresses every envelope once STARTUP set a compressor, READY included.
        body = compression.compress_body(algorithm, response[1])
        return frames.encode(version, stream, response[0], body, frames.FLAG_COMPRESSED)

    def _emit(self, out: segments.Outbox, stream: int, response: enc.Response) -> None:
        assert self.version is not None
        out.add(self._frame(self.version, stream, response), self._segmented)
        if self._requests.segments_next:
            self._requests.segments_next = False
            self._segmented = True  # v5: everything after READY/AUTHENTICATE is in segments
            self._lz4_segments = out.lz4 = self._requests.compression == "lz4"

    def _refuse(self, out: segments.Outbox, message: str, stream: int, version: int) -> None:
        """A fatal protocol error: answer it, then close once the client has read it."""
        self._node.stats.protocol_error()
        log.debug("Protocol error from %s:%d: %s", self.peer[0], self.peer[1], message)
        out.add(self._frame(version, stream, enc.error(enc.protocol_error(message))), self._segmented)
        self._closing = True

    def _close_gracefully(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # Half-close so the error is delivered before the FIN (a close with unread input sends RST).
        if transport.can_write_eof():
            transport.write_eof()
            asyncio.get_event_loop().call_later(2.0, transport.close)
        else:
            transport.close()

    # -- requests ----------------------------------------------------------------------------------
    def _handle(self, frame: frames.Frame, out: segments.Outbox) -> None:
        algorithm = self._requests.compression
        if frame.flags & frames.FLAG_COMPRESSED and algorithm is not None and frame.version < 5:
            try:
                body = compression.decompress_body(algorithm, frame.body)
            except compression.CompressionError as exc:
                raise frames.FrameError(str(exc), stream=frame.stream) from None
            frame = dataclasses.replace(frame, flags=frame.flags & ~frames.FLAG_COMPRESSED, body=body)
        kind = frames.OPCODE_NAMES.get(frame.opcode, "UNKNOWN")
        self._node.stats.request(kind)
        faults = self._node.faults
        rule = faults.match(kind, request_texts(frame, self.version or 4, self._node.hub)) if faults.active else None
        if rule is not None and rule.delay > 0:
            loop = asyncio.get_event_loop()
            loop.call_later(rule.delay, self._answer_late, frame, rule)
            return
        self._emit(out, frame.stream, self._answer(frame, rule))

    def _answer_late(self, frame: frames.Frame, rule: Rule) -> None:
        transport = self._transport
        if self._closing or transport is None or transport.is_closing():
            return
        out = segments.Outbox(self._lz4_segments)
        self._emit(out, frame.stream, self._answer(frame, rule))
        transport.write(out.data())

    def _answer(self, frame: frames.Frame, rule: Rule | None) -> enc.Response:
        if rule is not None and rule.error is not None:
            query_id = request_query_id(frame, self.version or 4)
            if query_id or rule.error != "unprepared":  # a BATCH of plain statements has nothing to re-prepare
                return enc.error(build_error(rule.error, rule.message, query_id=query_id))
        try:
            assert self.version is not None
            return self._requests.dispatch(frame, self.version, self.peer)
        except enc.ErrorMessage as exc:
            if exc.code == enc.PROTOCOL_ERROR:
                self._node.stats.protocol_error()
            return enc.error(exc)
        except Malformed as exc:
            self._node.stats.protocol_error()
            return enc.error(enc.protocol_error(str(exc)))
        except Exception as exc:
            log.exception("Unexpected error answering %s", frames.OPCODE_NAMES.get(frame.opcode))
            return enc.error(enc.server_error(f"java.lang.RuntimeException: {exc}"))

    # -- pushes ------------------------------------------------------------------------------------
    def push(self, kind: str, response: enc.Response) -> None:
        """Send an EVENT (stream -1) if this connection registered for ``kind``; loop thread only."""
        transport = self._transport
        if kind not in self._requests.registered or self._closing or transport is None or transport.is_closing():
            return
        out = segments.Outbox(self._lz4_segments)
        self._emit(out, -1, response)
        transport.write(out.data())

    def abort(self) -> None:
        if self._transport is not None:
            # close() first: before Python 3.11, abort() alone leaves a TLS transport marked open, and it
            # warns "unclosed transport" when collected; abort() then drops the connection at once.
            self._transport.close()
            self._transport.abort()
