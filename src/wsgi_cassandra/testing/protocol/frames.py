"""CQL frames (v3/v4/v5 envelopes): opcodes, the 9-byte header, and cutting frames out of a byte buffer.

A Cassandra node decides the protocol version from the first frame of a connection and answers an
unsupported one with a protocol ERROR whose text the driver looks for ("unsupported protocol version")
to step down; :func:`version_error` builds those texts exactly as Cassandra 4.x and 3.11 word them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct(">BBhBi")
_LEGACY_HEADER = struct.Struct(">BBbBi")  # v1/v2, only ever used to refuse them
HEADER_SIZE = HEADER.size  # 9 for v3+
MAX_FRAME_BODY = 16 * 1024 * 1024  # Cassandra 4's native_transport_max_frame_size default (16 MiB)

RESPONSE_BIT = 0x80
FLAG_COMPRESSED = 0x01
FLAG_TRACING = 0x02
FLAG_CUSTOM_PAYLOAD = 0x04
FLAG_WARNING = 0x08
FLAG_USE_BETA = 0x10

ERROR = 0x00
STARTUP = 0x01
READY = 0x02
AUTHENTICATE = 0x03
OPTIONS = 0x05
SUPPORTED = 0x06
QUERY = 0x07
RESULT = 0x08
PREPARE = 0x09
EXECUTE = 0x0A
REGISTER = 0x0B
EVENT = 0x0C
BATCH = 0x0D
AUTH_CHALLENGE = 0x0E
AUTH_RESPONSE = 0x0F
AUTH_SUCCESS = 0x10

OPCODE_NAMES: dict[int, str] = {
    ERROR: "ERROR",
    STARTUP: "STARTUP",
    READY: "READY",
    AUTHENTICATE: "AUTHENTICATE",
    0x04: "CREDENTIALS",
    OPTIONS: "OPTIONS",
    SUPPORTED: "SUPPORTED",
    QUERY: "QUERY",
    RESULT: "RESULT",
    PREPARE: "PREPARE",
    EXECUTE: "EXECUTE",
    REGISTER: "REGISTER",
    EVENT: "EVENT",
    BATCH: "BATCH",
    AUTH_CHALLENGE: "AUTH_CHALLENGE",
    AUTH_RESPONSE: "AUTH_RESPONSE",
    AUTH_SUCCESS: "AUTH_SUCCESS",
}
REQUEST_OPCODES = frozenset({STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, REGISTER, BATCH, AUTH_RESPONSE})


class FrameError(Exception):
    """The byte stream is not a valid frame sequence; answered with a protocol error, then closed."""

    def __init__(self, message: str, *, stream: int = 0, version: int | None = None) -> None:
        super().__init__(message)
        self.message, self.stream, self.version = message, stream, version


@dataclass(frozen=True)
class Frame:
    version: int
    flags: int
    stream: int
    opcode: int
    body: bytes


def encode(version: int, stream: int, opcode: int, body: bytes, flags: int = 0) -> bytes:
    """One response frame (direction bit set)."""
    if version < 3:
        return _LEGACY_HEADER.pack(RESPONSE_BIT | version, flags, stream, opcode, len(body)) + body
    return HEADER.pack(RESPONSE_BIT | version, flags, stream, opcode, len(body)) + body


def peek_version(buf: bytes | bytearray) -> tuple[int, int] | None:
    """(version, stream) of the frame starting ``buf``, readable even for versions we refuse."""
    if not buf:
        return None
    version = buf[0] & 0x7F
    if version < 3:  # v1/v2 headers: 8 bytes, one-byte stream id
        return (version, buf[2]) if len(buf) >= 3 else None
    if len(buf) < 4:
        return None
    return version, struct.unpack_from(">h", buf, 2)[0]


def cut(buf: bytearray, offset: int) -> tuple[Frame | None, int]:
    """The complete frame at ``offset`` and the offset after it, or (None, offset) if incomplete."""
    if len(buf) - offset < HEADER_SIZE:
        return None, offset
    raw_version, flags, stream, opcode, length = HEADER.unpack_from(buf, offset)
    if raw_version & RESPONSE_BIT:
        raise FrameError("Invalid frame: the response direction bit is set", stream=stream)
    if length < 0 or length > MAX_FRAME_BODY:
        raise FrameError(
            f"Request is too big: length {length} exceeds maximum allowed length {MAX_FRAME_BODY}"
            if length > 0
            else f"Invalid frame body length {length}",
            stream=stream,
        )
    end = offset + HEADER_SIZE + length
    if len(buf) < end:
        return None, offset
    body = bytes(buf[offset + HEADER_SIZE : end])
    return Frame(raw_version, flags, stream, opcode, body), end


def supported_versions(release_version: str) -> tuple[int, ...]:
    """Versions a node of ``release_version`` accepts without the USE_BETA flag."""
    return (3, 4) if release_version.startswith("3.") else (3, 4, 5)


def version_labels(release_version: str) -> list[str]:
    """PROTOCOL_VERSIONS as the node lists them in SUPPORTED."""
    if release_version.startswith("3."):
        return ["3/v3", "4/v4", "5/v5-beta"]
    return ["3/v3", "4/v4", "5/v5"]


def version_error(version: int, flags: int, release_version: str) -> tuple[str, int] | None:
    """The protocol error text and the frame version to answer it with, or None when ``version`` is fine."""
    supported = supported_versions(release_version)
    if version in supported:
        return None
    is_311 = release_version.startswith("3.")
    if is_311 and version == 5:
        if flags & FLAG_USE_BETA:
            # 3.11 spoke a pre-release v5 that no current driver understands; refuse it as unsupported.
            return ("Invalid or unsupported protocol version (5); the v5-beta of 3.11 is not emulated", 4)
        return ("Beta version of the protocol used (5/v5-beta), but USE_BETA flag is unset", 5)
    listed = "3/v3, 4/v4, 5/v5-beta" if is_311 else "3/v3, 4/v4, 5/v5"
    message = f"Invalid or unsupported protocol version ({version}); supported versions are ({listed})"
    # Too old: answer in the client's own version so it can read the error; too new: our highest.
    answer = version if version < min(supported) else max(supported)
    return message, answer
