"""Protocol v5 segment framing: frames wrapped in CRC-checked segments once the handshake is done.

In v5 a node switches the connection to segments right after it sends READY or AUTHENTICATE (both
directions), exactly when the driver calls ``_enable_checksumming``. A segment is a 3-byte little-endian
header (payload length in 17 bits, bit 17 = self-contained) with a CRC24 of it, the payload, and a
CRC32 of the payload. With lz4 negotiated the header is 5 bytes (compressed length, uncompressed length,
self-contained at bit 34) and the payload is an LZ4 block; a segment that LZ4 would not shrink is sent
as it is with uncompressed length 0, as Cassandra's FrameEncoderLZ4 does (FrameDecoderLZ4 reads both).
"""

from __future__ import annotations

import functools
import struct
import zlib

from .compression import CompressionError, lz4_compress, lz4_decompress

MAX_PAYLOAD = 128 * 1024 - 1
_CRC24_INIT = 0x875060
_CRC24_POLY = 0x1974F0B
_CRC32_INIT = zlib.crc32(b"\xfa\x2d\x55\xca")
_HEADER_WITH_CRC = 6
_LZ4_HEADER_WITH_CRC = 8
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


def _lz4_segment(part: bytes, self_contained: bool) -> bytes:
    payload = lz4_compress(part)
    uncompressed = len(part)
    if len(payload) >= uncompressed:
        payload, uncompressed = part, 0  # not worth it: sent as is, "uncompressed length 0"
    data = len(payload) | (uncompressed << 17) | (1 << 34 if self_contained else 0)
    header = data.to_bytes(5, "little") + crc24(data, 5).to_bytes(3, "little")
    return header + payload + _CRC32.pack(zlib.crc32(payload, _CRC32_INIT))


def encode(frame: bytes, lz4: bool = False) -> bytes:
    """Wrap one frame: one self-contained segment, or several parts if it exceeds the payload limit."""
    if len(frame) <= MAX_PAYLOAD:
        parts = [frame]
    else:
        parts = [frame[i : i + MAX_PAYLOAD] for i in range(0, len(frame), MAX_PAYLOAD)]
    self_contained = len(parts) == 1
    out = bytearray()
    for part in parts:
        if lz4:
            out += _lz4_segment(part, self_contained)
            continue
        out += _header(len(part), self_contained)
        out += part
        out += _CRC32.pack(zlib.crc32(part, _CRC32_INIT))
    return bytes(out)


def pack(frames: list[bytes], lz4: bool = False) -> bytes:
    """Wrap several frames, as many whole frames per self-contained segment as fit (as Cassandra flushes).

    One segment for a burst of answers instead of one each: the driver checks one CRC24 header (in pure
    Python) per segment, so this saves client time when many requests are in flight.
    """
    out: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for frame in frames:
        if size + len(frame) > MAX_PAYLOAD and group:
            out.append(encode(b"".join(group), lz4))
            group, size = [], 0
        if len(frame) > MAX_PAYLOAD:
            out.append(encode(frame, lz4))  # split into parts that carry nothing else
        else:
            group.append(frame)
            size += len(frame)
    if group:
        out.append(encode(b"".join(group), lz4))
    return b"".join(out)


def decode(raw: bytearray, into: bytearray, lz4: bool = False) -> None:
    """Move every complete segment at the start of ``raw`` into ``into`` (frame bytes), in place."""
    offset = 0
    width = 5 if lz4 else 3
    head = _LZ4_HEADER_WITH_CRC if lz4 else _HEADER_WITH_CRC
    while len(raw) - offset >= head:
        data = int.from_bytes(raw[offset : offset + width], "little")
        expected = int.from_bytes(raw[offset + width : offset + head], "little")
        if crc24(data, width) != expected:
            raise SegmentError(f"CRC mismatch on segment header {data:0{2 * width}x}")
        length = data & MAX_PAYLOAD
        end = offset + head + length + 4
        if len(raw) < end:
            break
        payload = raw[offset + head : end - 4]
        if zlib.crc32(payload, _CRC32_INIT) != _CRC32.unpack_from(raw, end - 4)[0]:
            raise SegmentError("CRC mismatch on segment payload")
        uncompressed = (data >> 17) & MAX_PAYLOAD if lz4 else 0
        if uncompressed:
            try:
                into += lz4_decompress(bytes(payload), uncompressed)
            except CompressionError as exc:
                raise SegmentError(str(exc)) from None
        else:
            into += payload
        offset = end
    if offset:
        del raw[:offset]


class Outbox:
    """The answers to one read: plain frames first, then (v5, once switched) frames to pack in segments."""

    __slots__ = ("framed", "lz4", "plain")

    def __init__(self, lz4: bool = False) -> None:
        self.plain: list[bytes] = []
        self.framed: list[bytes] = []
        self.lz4 = lz4  # the segments are LZ4-compressed (v5 with COMPRESSION lz4)

    def add(self, frame: bytes, segmented: bool) -> None:
        (self.framed if segmented else self.plain).append(frame)

    def __bool__(self) -> bool:
        return bool(self.plain or self.framed)

    def data(self) -> bytes:
        plain = b"".join(self.plain)
        return plain + pack(self.framed, self.lz4) if self.framed else plain
