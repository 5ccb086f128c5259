"""Errors the CQL test server answers with, one class per native-protocol error code.

The engine (CQL parsing and execution) raises these; the protocol layer turns each into an ERROR frame
with the code and the extra fields the spec defines for it, so the unmodified driver raises the same
exception a real Cassandra node would cause (``InvalidRequest``, ``AlreadyExists``, ``Unavailable`` ...).
"""

from __future__ import annotations

from typing import ClassVar


class CQLError(Exception):
    """Base: an error answered to the client as an ERROR frame. ``code`` is the protocol error code."""

    code: ClassVar[int] = 0x0000

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerError(CQLError):
    code = 0x0000


class ProtocolError(CQLError):
    code = 0x000A


class BadCredentials(CQLError):
    code = 0x0100


class Unavailable(CQLError):
    code = 0x1000

    def __init__(self, message: str, *, consistency: int = 0x0001, required: int = 1, alive: int = 0) -> None:
        super().__init__(message)
        self.consistency, self.required, self.alive = consistency, required, alive


class Overloaded(CQLError):
    code = 0x1001


class IsBootstrapping(CQLError):
    code = 0x1002


class TruncateError(CQLError):
    code = 0x1003


class WriteTimeout(CQLError):
    code = 0x1100

    def __init__(
        self,
        message: str,
        *,
        consistency: int = 0x0001,
        received: int = 0,
        block_for: int = 1,
        write_type: str = "SIMPLE",
    ) -> None:
        super().__init__(message)
        self.consistency, self.received, self.block_for, self.write_type = (
            consistency,
            received,
            block_for,
            write_type,
        )


class ReadTimeout(CQLError):
    code = 0x1200

    def __init__(
        self,
        message: str,
        *,
        consistency: int = 0x0001,
        received: int = 0,
        block_for: int = 1,
        data_present: bool = False,
    ) -> None:
        super().__init__(message)
        self.consistency, self.received, self.block_for, self.data_present = (
            consistency,
            received,
            block_for,
            data_present,
        )


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


# Names accepted by fault injection (``error="overloaded"``), mapped to the class answered.
ERRORS_BY_NAME: dict[str, type[CQLError]] = {
    "server_error": ServerError,
    "protocol_error": ProtocolError,
    "bad_credentials": BadCredentials,
    "unavailable": Unavailable,
    "overloaded": Overloaded,
    "is_bootstrapping": IsBootstrapping,
    "truncate_error": TruncateError,
    "write_timeout": WriteTimeout,
    "read_timeout": ReadTimeout,
    "syntax_error": CQLSyntaxError,
    "unauthorized": Unauthorized,
    "invalid": InvalidRequest,
    "config_error": ConfigError,
    "already_exists": AlreadyExists,
    "unprepared": Unprepared,  # EXECUTE/BATCH only: the query id is taken from the request
}
