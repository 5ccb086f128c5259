"""Protocol v5 segment framing: frames wrapped in CRC-checked segments once the handshake is done.

In v5 a node switches the connection to segments right after it sends READY or AUTHENTICATE (both
directions), exactly when the driver calls ``_enable_checksumming``. A segment is a 3-byte little-endian
header (payload length in 17 bits, bit 17 = self-contained) with a CRC24 of it, the payload, and a
CRC32 of the payload; no compression is negotiated, so the header is always the 3-byte form.
"""

from __future__ import annotations

import functools
import struct
import zlib

MAX_PAYLOAD = 128 * 1024 - 1
_CRC24_INIT = 0x875060
_CRC24_POLY = 0x1974F0B
_CRC32_INIT = zlib.crc32(b"\xfa\x2d\x55\xca")
_HEADER_WITH_CRC = 6
_CRC32 = struct.Struct("<I")


class SegmentError(Exception):
    """A CRC mismatch: the stream cannot be trusted any more."""


@functools.lru_cache(maxsize=4096)  # headers repeat (same sizes): the bitwise loop runs once per size
def crc24(value: int, length: int = 3) -> int:
    """CRC24 over the ``length`` low bytes of ``value``, least significant first (as the spec and driver)."""
    crc = _CRC24_INIT
    for _ in range(length):
        crc ^= (value & 0xFF) << 16
        value >>= 8
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc


def _header(payload_length: int, self_contained: bool) -> bytes:
    data = payload_length | (1 << 17 if self_contained else 0)
    return data.to_bytes(3, "little") + crc24(data).to_bytes(3, "little")


def encode(frame: bytes) -> bytes:
    """Wrap one frame: one self-contained segment, or several parts if it exceeds the payload limit."""
    if len(frame) <= MAX_PAYLOAD:
        parts = [frame]
    else:
        parts = [frame[i : i + MAX_PAYLOAD] for i in range(0, len(frame), MAX_PAYLOAD)]
    self_contained = len(parts) == 1
    out = bytearray()
    for part in parts:
        out += _header(len(part), self_contained)
        out += part
        out += _CRC32.pack(zlib.crc32(part, _CRC32_INIT))
    return bytes(out)


def pack(frames: list[bytes]) -> bytes:
    """Wrap several frames, as many whole frames per self-contained segment as fit (as Cassandra flushes).

    One segment for a burst of answers instead of one each: the driver checks one CRC24 header (in pure
    Python) per segment, so this saves client time when many requests are in flight.
    """
    out: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for frame in frames:
        if size + len(frame) > MAX_PAYLOAD and group:
            out.append(encode(b"".join(group)))
            group, size = [], 0
        if len(frame) > MAX_PAYLOAD:
            out.append(encode(frame))  # split into parts that carry nothing else
        else:
            group.append(frame)
            size += len(frame)
    if group:
        out.append(encode(b"".join(group)))
    return b"".join(out)


def decode(raw: bytearray, into: bytearray) -> None:
    """Move every complete segment at the start of ``raw`` into ``into`` (frame bytes), in place."""
    offset = 0
    while len(raw) - offset >= _HEADER_WITH_CRC:
        data = int.from_bytes(raw[offset : offset + 3], "little")
        expected = int.from_bytes(raw[offset + 3 : offset + 6], "little")
        if crc24(data) != expected:
            raise SegmentError(f"CRC mismatch on segment header {data:06x}")
        length = data & MAX_PAYLOAD
        end = offset + _HEADER_WITH_CRC + length + 4
        if len(raw) < end:
            break
        payload = raw[offset + _HEADER_WITH_CRC : end - 4]
        if zlib.crc32(payload, _CRC32_INIT) != _CRC32.unpack_from(raw, end - 4)[0]:
            raise SegmentError("CRC mismatch on segment payload")
        into += payload
        offset = end
    if offset:
        del raw[:offset]


class Outbox:
    """The answers to one read: plain frames first, then (v5, once switched) frames to pack in segments."""

    __slots__ = ("framed", "plain")

    def __init__(self) -> None:
        self.plain: list[bytes] = []
        self.framed: list[bytes] = []

    def add(self, frame: bytes, segmented: bool) -> None:
        (self.framed if segmented else self.plain).append(frame)

    def __bool__(self) -> bool:
        return bool(self.plain or self.framed)

    def data(self) -> bytes:
        plain = b"".join(self.plain)
        return plain + pack(self.framed) if self.framed else plain
