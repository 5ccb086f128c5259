"""What one connection answers to a request: the handshake, REGISTER, then statements.

A connection starts NEW: only OPTIONS and STARTUP are accepted; with credentials configured STARTUP is
answered AUTHENTICATE and the connection waits for a correct AUTH_RESPONSE (PasswordAuthenticator,
compared in constant time); then it is READY for REGISTER and the statements, which the node's
``QueryRunner`` runs. Errors are raised as ``responses.ErrorMessage``: the connection answers them.
Framing, segments and faults stay in ``_connection``::

    dispatcher = Dispatcher(node)
    response = dispatcher.dispatch(frame, version, peer)   # (opcode, body) to frame and send
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING

from ..protocol import compression, frames
from ..protocol import requests as decode
from ..protocol import responses as enc
from ..protocol.requests import Malformed, Reader
from ..protocol.responses import bad_credentials, protocol_error

if TYPE_CHECKING:
    from ._connection import ServerSide

__all__ = ["AUTHENTICATOR", "Dispatcher"]

log = logging.getLogger(__name__)

AUTHENTICATOR = "org.apache.cassandra.auth.PasswordAuthenticator"
_NEW, _AUTHENTICATING, _READY = 0, 1, 2
_TEXT_OPCODES = frozenset({frames.QUERY, frames.PREPARE, frames.EXECUTE, frames.BATCH})


class Dispatcher:
    """One connection's request state: handshake progress, keyspace in use, events registered."""

    def __init__(self, node: ServerSide) -> None:
        self._node = node
        self._state = _NEW
        self.keyspace: str | None = None
        self.registered: set[str] = set()
        # v5: set by STARTUP; the connection switches to segments after sending the answer.
        self.segments_next = False
        # "lz4" or "snappy" once STARTUP asked for it: the connection compresses from STARTUP's answer on.
        self.compression: str | None = None

    def dispatch(self, frame: frames.Frame, version: int, peer: tuple[str, int]) -> enc.Response:
        op = frame.opcode
        release = self._node.release_version
        if frame.flags & frames.FLAG_COMPRESSED:
            raise protocol_error("Received a compressed frame but no compression was negotiated")
        r = decode.reader(frame.body, frame.flags, frames.FLAG_CUSTOM_PAYLOAD)
        if op == frames.OPTIONS:
            cql = "3.4.4" if release.startswith("3.") else "3.4.5"
            return enc.supported(cql, frames.version_labels(release))
        if self._state == _NEW:
            if op == frames.STARTUP:
                return self._startup(r, version)
            raise protocol_error(f"Unexpected message {_name(op)}, expecting STARTUP or OPTIONS")
        if self._state == _AUTHENTICATING:
            if op == frames.AUTH_RESPONSE:
                return self._authenticate(r, peer)
            raise protocol_error(f"Unexpected message {_name(op)}, expecting SASL_RESPONSE")
        if op == frames.REGISTER:
            return self._register(r)
        if op in _TEXT_OPCODES:
            queries = self._node.queries
            assert queries is not None
            response, self.keyspace = queries.run(op, r, version, self.keyspace)
            return response
        if op in (frames.STARTUP, frames.AUTH_RESPONSE):
            raise protocol_error(f"Unexpected message {_name(op)}, the connection is already ready")
        raise protocol_error(f"Unknown opcode {op}")

    def _startup(self, r: Reader, version: int) -> enc.Response:
        options = {key.upper(): value for key, value in decode.startup(r).items()}  # as StartupMessage
        if "CQL_VERSION" not in options:
            raise protocol_error("Missing value CQL_VERSION in STARTUP message")
        if "COMPRESSION" in options:
            try:
                self.compression = compression.negotiate(options["COMPRESSION"], version)
            except compression.CompressionError as exc:
                raise protocol_error(str(exc)) from None
            self._node.stats.compression(self.compression)
        self.segments_next = version >= 5
        if self._node.credentials is not None:
            self._state = _AUTHENTICATING
            return enc.authenticate(AUTHENTICATOR)
        self._state = _READY
        return enc.ready()

    def _authenticate(self, r: Reader, peer: tuple[str, int]) -> enc.Response:
        try:
            username, password = decode.sasl_plain(r)
        except Malformed as exc:
            raise bad_credentials(str(exc)) from None
        expected = (self._node.credentials or {}).get(username)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            log.info("Authentication failed for user %s from %s", username, peer[0])
            raise bad_credentials(f"Provided username {username} and/or password are incorrect")
        self._state = _READY
        self._node.stats.authenticated()
        return enc.auth_success()

    def _register(self, r: Reader) -> enc.Response:
        kinds = decode.register(r)
        for kind in kinds:
            if kind not in ("TOPOLOGY_CHANGE", "STATUS_CHANGE", "SCHEMA_CHANGE"):
                raise protocol_error(f"Invalid value '{kind}' for Type")
        self.registered.update(kinds)
        return enc.ready()


def _name(opcode: int) -> str:
    return frames.OPCODE_NAMES.get(opcode, str(opcode))
