"""Errors the CQL engine raises, one class per Cassandra error code it needs.

The engine knows nothing of the native protocol: the server runtime catches :class:`CQLError` and answers
an ERROR message with ``code``, ``message`` and, for :class:`AlreadyExists` and :class:`Unprepared`, their
extra fields, so the unmodified driver raises what a real Cassandra node would cause (``InvalidRequest``,
``AlreadyExists``, ``SyntaxException`` ...).
"""

from __future__ import annotations

from typing import ClassVar


class CQLError(Exception):
    """Base: a statement refused. ``code`` is the error code Cassandra answers it with."""

    code: ClassVar[int] = 0x0000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerError(CQLError):
    """An internal failure of the engine (a bug): answered, never a dropped connection."""

    code = 0x0000


class ProtocolError(CQLError):
    """What Cassandra answers an invalid paging state with."""

    code = 0x000A


class CQLSyntaxError(CQLError):
    code = 0x2000


class Unauthorized(CQLError):
    code = 0x2100


class InvalidRequest(CQLError):
    code = 0x2200


class ConfigError(CQLError):
    code = 0x2300


class AlreadyExists(CQLError):
    code = 0x2400

    def __init__(self, message: str, *, keyspace: str, table: str = "") -> None:
        super().__init__(message)
        self.keyspace, self.table = keyspace, table


class Unprepared(CQLError):
    code = 0x2500

    def __init__(self, message: str, *, query_id: bytes) -> None:
        super().__init__(message)
        self.query_id = query_id
