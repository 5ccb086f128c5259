"""The native protocol's primitive notations ([short], [string], [bytes], [value] ...), read and written.

Kept apart from the message codecs so that both directions share one definition of each notation and
so that a truncated or inconsistent body surfaces as one exception type, :class:`Malformed`, which the
connection answers with a protocol ERROR instead of dropping the client.
"""

from __future__ import annotations

import struct
from typing import Union


class UnsetValue:
    """A [value] of length -2 (protocol v4+): the client left this bound value unset."""

    _instance: UnsetValue | None = None

    def __new__(cls) -> UnsetValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET_VALUE"


UNSET_VALUE = UnsetValue()
Value = Union[bytes, None, UnsetValue]

_BYTE = struct.Struct(">B")
_SHORT = struct.Struct(">H")
_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")


class Malformed(Exception):
    """A message body that does not follow the spec (truncated, bad length, bad UTF-8)."""


class Reader:
    """Sequential reader over one message body; every read checks the bounds."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, n: int) -> bytes:
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise Malformed(f"Not enough bytes to read {n} byte(s) at offset {self._pos}")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def byte(self) -> int:
        return int(_BYTE.unpack(self._take(1))[0])

    def short(self) -> int:
        return int(_SHORT.unpack(self._take(2))[0])

    def int32(self) -> int:
        return int(_INT.unpack(self._take(4))[0])

    def long(self) -> int:
        return int(_LONG.unpack(self._take(8))[0])

    def string(self) -> str:
        return self._decode(self._take(self.short()))

    def long_string(self) -> str:
        n = self.int32()
        if n < 0:
            raise Malformed(f"Negative length {n} for a [long string]")
        return self._decode(self._take(n))

    def short_bytes(self) -> bytes:
        return self._take(self.short())

    def nullable_bytes(self) -> bytes | None:
        n = self.int32()
        return None if n < 0 else self._take(n)

    def value(self) -> Value:
        n = self.int32()
        if n >= 0:
            return self._take(n)
        if n == -1:
            return None
        if n == -2:
            return UNSET_VALUE
        raise Malformed(f"Invalid [value] length {n}")

    def string_list(self) -> list[str]:
        return [self.string() for _ in range(self.short())]

    def string_map(self) -> dict[str, str]:
        return {self.string(): self.string() for _ in range(self.short())}

    def bytes_map(self) -> dict[str, bytes | None]:
        return {self.string(): self.nullable_bytes() for _ in range(self.short())}

    @staticmethod
    def _decode(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed(f"Invalid UTF-8 in a [string]: {exc}") from None


def short(n: int) -> bytes:
    return _SHORT.pack(n)


def int32(n: int) -> bytes:
    return _INT.pack(n)


def string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _SHORT.pack(len(raw)) + raw


def long_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return _INT.pack(len(raw)) + raw


def short_bytes(b: bytes) -> bytes:
    return _SHORT.pack(len(b)) + b


def bytes_(b: bytes | None) -> bytes:
    return _INT.pack(-1) if b is None else _INT.pack(len(b)) + b


def string_list(items: list[str]) -> bytes:
    return _SHORT.pack(len(items)) + b"".join(string(s) for s in items)


def string_multimap(m: dict[str, list[str]]) -> bytes:
    return _SHORT.pack(len(m)) + b"".join(string(k) + string_list(v) for k, v in m.items())


def inet(address: str, port: int) -> bytes:
    import socket

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    raw = socket.inet_pton(family, address)
    return _BYTE.pack(len(raw)) + raw + _INT.pack(port)
