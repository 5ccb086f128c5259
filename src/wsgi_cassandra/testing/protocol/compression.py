"""Frame compression as a Cassandra 4.0 node does it: LZ4 and Snappy block formats, in pure Python.

A node lists ``COMPRESSION: [snappy, lz4]`` in SUPPORTED and a driver picks one in STARTUP (python-driver
prefers lz4). Up to protocol v4 every frame body after STARTUP is compressed on its own and flagged 0x01
(lz4 bodies carry a 4-byte big-endian uncompressed length first, snappy bodies are raw snappy); in v5 the
segments are compressed instead (see :mod:`.segments`) and snappy is refused. Pure Python so the test
server needs no native package; the codecs are checked against ``lz4.block`` and ``python-snappy``::

    name = negotiate("LZ4", version=4)          # "lz4", or CompressionError with the node's words
    wire = compress_body(name, body)            # what goes after the 9-byte header, flag 0x01 set
    body = decompress_body(name, wire)

The encoders find greedy matches through a table of the last position of every 4-byte string; that is
simple and always valid, not as tight as the C libraries (the driver reads either).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "ALGORITHMS",
    "CompressionError",
    "compress_body",
    "decompress_body",
    "lz4_compress",
    "lz4_decompress",
    "negotiate",
    "snappy_compress",
    "snappy_decompress",
]

# SUPPORTED's order in Cassandra 4.0 (InitialConnectionHandler: snappy when its native library loads, then lz4).
ALGORITHMS = ("snappy", "lz4")
MAX_UNCOMPRESSED = 16 * 1024 * 1024  # native_transport_max_frame_size's default, as frames.MAX_FRAME_BODY

_LENGTH = struct.Struct(">I")
_MAX_OFFSET = 65535
_LZ4_MFLIMIT = 12  # a match starts at least 12 bytes before the end of a block...
_LZ4_LAST_LITERALS = 5  # ...and the last 5 bytes are literals (the LZ4 block format's end rules)
_SKIP_STRENGTH = 6  # after 2**6 misses in a row, step 2 bytes, and so on (LZ4's acceleration)


class CompressionError(Exception):
    """A compressed body or segment that does not decode, or a STARTUP asking for what the node refuses."""


def negotiate(requested: str, version: int) -> str:
    """The algorithm STARTUP's ``COMPRESSION`` option sets, or the node's refusal (StartupMessage.execute)."""
    name = requested.lower()
    if name == "snappy":
        if version >= 5:
            raise CompressionError("Snappy compression is not supported in protocol V5")
        return name
    if name == "lz4":
        return name
    raise CompressionError(f"Unknown compression algorithm: {name}")


def compress_body(algorithm: str, body: bytes) -> bytes:
    """A v3/v4 frame body compressed as the node compresses it (every body, even an empty one)."""
    if algorithm == "lz4":
        return _LENGTH.pack(len(body)) + lz4_compress(body)
    return snappy_compress(body)


def decompress_body(algorithm: str, data: bytes) -> bytes:
    """A v3/v4 frame body the client compressed; CompressionError with the node's text if it is not."""
    if algorithm == "lz4":
        if len(data) < _LENGTH.size:
            raise CompressionError("Provided frame does not appear to be LZ4 compressed")
        size = _LENGTH.unpack_from(data)[0]
        _check_size(size)
        return lz4_decompress(data[_LENGTH.size :], size)
    return snappy_decompress(data)


def _check_size(size: int) -> None:
    if size > MAX_UNCOMPRESSED:
        raise CompressionError(
            f"Invalid uncompressed frame length {size}; it must be non-negative and no greater than"
            f" native_transport_max_frame_size ({MAX_UNCOMPRESSED} bytes)"
        )


# -- matches (shared by both encoders) ---------------------------------------------------------------
def _matches(data: bytes, start_limit: int, end_limit: int) -> Iterator[tuple[int, int, int]]:
    """Greedy (position, offset, length) matches of 4+ bytes starting before ``start_limit``, ending by
    ``end_limit``, at most 65535 back; a match may overlap its own output (a run of one byte is offset 1)."""
    table: dict[bytes, int] = {}
    pos = misses = 0
    while pos < start_limit:
        key = data[pos : pos + 4]
        ref = table.get(key)
        table[key] = pos
        if ref is None or pos - ref > _MAX_OFFSET:
            misses += 1
            pos += 1 + (misses >> _SKIP_STRENGTH)
            continue
        length, most = 4, end_limit - pos
        while length < most:  # compare 64 bytes at a time, then find the first difference
            step = min(64, most - length)
            if data[ref + length : ref + length + step] == data[pos + length : pos + length + step]:
                length += step
                continue
            while data[ref + length] == data[pos + length]:
                length += 1
            break
        yield pos, pos - ref, length
        pos += length
        misses = 0


def _copy_match(out: bytearray, offset: int, length: int) -> None:
    start = len(out) - offset
    if offset <= 0 or start < 0:
        raise CompressionError(f"Invalid match offset {offset} at output position {len(out)}")
    if length <= offset:
        out += out[start : start + length]
    else:  # the match overlaps the bytes it produces: repeat the last ``offset`` bytes
        pattern = bytes(out[start:])
        repeats, rest = divmod(length, offset)
        out += pattern * repeats + pattern[:rest]


# -- LZ4 block format ---------------------------------------------------------------------------------
def lz4_compress(data: bytes) -> bytes:
    """An LZ4 block (no size prefix), as ``lz4.block.compress(data, store_size=False)`` can read it back."""
    data = bytes(data)
    out = bytearray()
    anchor = 0
    if len(data) > _LZ4_MFLIMIT:
        end_limit = len(data) - _LZ4_LAST_LITERALS
        for pos, offset, length in _matches(data, len(data) - _LZ4_MFLIMIT, end_limit):
            _lz4_sequence(out, data[anchor:pos], offset, length)
            anchor = pos + length
    _lz4_sequence(out, data[anchor:], 0, 0)
    return bytes(out)


def _lz4_sequence(out: bytearray, literal: bytes, offset: int, length: int) -> None:
    literals = len(literal)
    extra = length - 4 if offset else 0
    out.append((min(literals, 15) << 4) | min(extra, 15))
    if literals >= 15:
        _lz4_length(out, literals - 15)
    out += literal
    if offset:
        out += offset.to_bytes(2, "little")
        if extra >= 15:
            _lz4_length(out, extra - 15)


def _lz4_length(out: bytearray, rest: int) -> None:
    full, last = divmod(rest, 255)
    out += b"\xff" * full
    out.append(last)


def lz4_decompress(data: bytes, size: int) -> bytes:
    """Decode an LZ4 block that must expand to exactly ``size`` bytes."""
    src = bytes(data)
    out = bytearray()
    pos, end = 0, len(src)
    try:
        while True:
            token = src[pos]
            pos += 1
            literals = token >> 4
            if literals == 15:
                literals, pos = _lz4_read_length(src, pos, literals)
            if pos + literals > end:
                raise CompressionError("LZ4 literals run past the end of the block")
            out += src[pos : pos + literals]
            pos += literals
            if pos == end:
                break
            offset = src[pos] | (src[pos + 1] << 8)
            pos += 2
            length = token & 15
            if length == 15:
                length, pos = _lz4_read_length(src, pos, length)
            _copy_match(out, offset, length + 4)
            if len(out) > size:
                break
    except IndexError:
        raise CompressionError("Truncated LZ4 block") from None
    if len(out) != size:
        raise CompressionError(f"LZ4 block decodes to {len(out)} bytes, expected {size}")
    return bytes(out)


def _lz4_read_length(src: bytes, pos: int, length: int) -> tuple[int, int]:
    while True:
        byte = src[pos]
        pos += 1
        length += byte
        if byte != 255:
            return length, pos


# -- Snappy raw format -----------------------------------------------------------------------------------
def snappy_compress(data: bytes) -> bytes:
    """Raw Snappy (a varint length, then literals and copies), as ``snappy.decompress`` reads it."""
    data = bytes(data)
    out = bytearray(_varint(len(data)))
    anchor = 0
    if len(data) >= 4:
        for pos, offset, length in _matches(data, len(data) - 3, len(data)):
            _snappy_literal(out, data[anchor:pos])
            _snappy_copy(out, offset, length)
            anchor = pos + length
    _snappy_literal(out, data[anchor:])
    return bytes(out)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _snappy_literal(out: bytearray, literal: bytes) -> None:
    if not literal:
        return
    n = len(literal) - 1
    if n < 60:
        out.append(n << 2)
    else:
        width = (n.bit_length() + 7) // 8
        out.append((59 + width) << 2)
        out += n.to_bytes(width, "little")
    out += literal


def _snappy_copy(out: bytearray, offset: int, length: int) -> None:
    while length > 0:
        # At most 64 per copy; never leave fewer than 4 for the last one.
        piece = 64 if length >= 68 else (60 if length > 64 else length)
        if piece <= 11 and offset < 2048:
            out.append(1 | ((piece - 4) << 2) | ((offset >> 8) << 5))
            out.append(offset & 0xFF)
        else:
            out.append(2 | ((piece - 1) << 2))
            out += offset.to_bytes(2, "little")
        length -= piece


def snappy_decompress(data: bytes) -> bytes:
    """Decode raw Snappy; its length prefix is checked against the node's frame limit first."""
    src = bytes(data)
    size = shift = pos = 0
    try:
        while True:
            byte = src[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
            if shift > 28:
                raise CompressionError("Provided frame does not appear to be Snappy compressed")
        _check_size(size)
        out = bytearray()
        end = len(src)
        while pos < end:
            tag = src[pos]
            pos += 1
            kind = tag & 3
            if kind == 0:
                literals = tag >> 2
                if literals >= 60:
                    width = literals - 59
                    literals = int.from_bytes(src[pos : pos + width], "little")
                    pos += width
                literals += 1
                if pos + literals > end:
                    raise CompressionError("Snappy literal runs past the end of the input")
                out += src[pos : pos + literals]
                pos += literals
            else:
                if kind == 1:
                    length = ((tag >> 2) & 7) + 4
                    offset = ((tag >> 5) << 8) | src[pos]
                    pos += 1
                else:
                    width = 2 if kind == 2 else 4
                    length = (tag >> 2) + 1
                    if pos + width > end:
                        raise IndexError
                    offset = int.from_bytes(src[pos : pos + width], "little")
                    pos += width
                _copy_match(out, offset, length)
            if len(out) > size:
                break
    except IndexError:
        raise CompressionError("Truncated Snappy input") from None
    if len(out) != size:
        raise CompressionError(f"Snappy input decodes to {len(out)} bytes, expected {size}")
    return bytes(out)
