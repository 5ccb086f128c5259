"""Fault and latency injection for drills: what a sick or slow node does, switched on per test.

Every fault is cleared by :meth:`Faults.clear` (the fixtures call it) and rules can expire after
``times`` matches. Delays never block the server: the response is scheduled on its event loop, so other
connections and other streams of the same connection keep being answered::

    server.faults.delay(0.4, query=r"system_schema")        # slow schema reads -> slow connect
    server.faults.delay(0.2, messages="STARTUP")
    server.faults.error("overloaded", query=r"FROM users")  # -> driver OverloadedErrorMessage
    server.faults.error("unprepared", times=1)               # the driver re-prepares and retries
    server.faults.black_hole()                               # read everything, answer nothing
    server.faults.refuse_connections()                       # close the listener (node down) ...
    server.faults.accept_connections()                       # ... and listen again on the same port
    server.faults.close_connections()                        # drop every open connection abruptly
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..protocol import frames
from ..protocol import requests as decode
from ..protocol import responses as enc
from ..protocol.requests import Malformed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._hub import EventHub

_DEFAULT_MESSAGES = {
    "overloaded": "Server is in overloaded state. Cannot accept more requests at this point",
    "unavailable": "Cannot achieve consistency level ONE",
    "read_timeout": "Operation timed out - received only 0 responses.",
    "write_timeout": "Operation timed out - received only 0 responses.",
    "is_bootstrapping": "Cannot read from a bootstrapping node",
    "server_error": "Injected server error",
}
# The errors a rule can answer, by the name ``Faults.error`` takes.
_CODES = {
    "server_error": enc.SERVER_ERROR,
    "protocol_error": enc.PROTOCOL_ERROR,
    "bad_credentials": enc.BAD_CREDENTIALS,
    "unavailable": enc.UNAVAILABLE,
    "overloaded": enc.OVERLOADED,
    "is_bootstrapping": enc.IS_BOOTSTRAPPING,
    "truncate_error": enc.TRUNCATE_ERROR,
    "write_timeout": enc.WRITE_TIMEOUT,
    "read_timeout": enc.READ_TIMEOUT,
    "syntax_error": enc.SYNTAX_ERROR,
    "unauthorized": enc.UNAUTHORIZED,
    "invalid": enc.INVALID,
    "config_error": enc.CONFIG_ERROR,
    "already_exists": enc.ALREADY_EXISTS,
    "unprepared": enc.UNPREPARED,  # EXECUTE/BATCH only: the query id is taken from the request
}
ERROR_NAMES: tuple[str, ...] = tuple(_CODES)
# An unknown query id can only be answered to a request that carries one.
_UNPREPARED_MESSAGES = frozenset({"EXECUTE", "BATCH"})


@dataclass
class Rule:
    """One injected behaviour; ``remaining`` None means forever."""

    messages: frozenset[str] | None
    query: re.Pattern[str] | None
    delay: float = 0.0
    error: str | None = None
    message: str | None = None
    remaining: int | None = None

    def matches(self, kind: str, texts: Iterable[str]) -> bool:
        if self.messages is not None and kind not in self.messages:
            return False
        if self.query is not None:
            pattern = self.query
            return any(pattern.search(text) for text in texts)
        return True


def build_error(name: str, message: str | None = None, *, query_id: bytes = b"") -> enc.ErrorMessage:
    """The ERROR message for the error named ``name`` (one of :data:`ERROR_NAMES`), with the spec's defaults."""
    text = message or _DEFAULT_MESSAGES.get(name, f"Injected {name}")
    if name == "unavailable":
        return enc.unavailable(text)
    if name == "write_timeout":
        return enc.write_timeout(text)
    if name == "read_timeout":
        return enc.read_timeout(text)
    if name == "already_exists":
        return enc.already_exists(text, keyspace="injected")
    if name == "unprepared":
        if message is None:  # Cassandra's wording, with the id the client sent
            text = (
                f"Prepared query with ID {query_id.hex()} not found (either the query was not prepared on this"
                " host (maybe the host has been restarted?) or you have prepared too many queries and it has"
                " been evicted from the internal cache)"
            )
        return enc.unprepared(text, query_id=query_id)
    return enc.ErrorMessage(_CODES[name], text)


def _kinds(messages: str | Iterable[str] | None) -> frozenset[str] | None:
    if messages is None:
        return None
    names = frozenset([messages] if isinstance(messages, str) else messages)
    unknown = names - set(frames.OPCODE_NAMES.values())
    if unknown:
        raise ValueError(
            f"Unknown message type(s) {sorted(unknown)}; expected some of {sorted(frames.OPCODE_NAMES.values())}"
        )
    return names


class Faults:
    """The faults of one server (``server.faults``); thread-safe, changed from the test thread."""

    def __init__(self, *, set_listening: Callable[[bool], None], abort_connections: Callable[[], int]) -> None:
        self._set_listening = set_listening
        self._abort_connections = abort_connections
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self.black_holed = False

    def delay(
        self,
        seconds: float,
        *,
        messages: str | Iterable[str] | None = None,
        query: str | None = None,
        times: int | None = None,
    ) -> Rule:
        """Answer matching requests ``seconds`` late (by message type, query regex, or both)."""
        if seconds < 0:
            raise ValueError(f"delay seconds must be >= 0, got {seconds!r}")
        return self._add(Rule(_kinds(messages), _compile(query), delay=seconds, remaining=times))

    def error(
        self,
        error: str,
        *,
        query: str | None = None,
        messages: str | Iterable[str] | None = None,
        message: str | None = None,
        times: int | None = None,
        delay: float = 0.0,
    ) -> Rule:
        """Answer matching requests with the error named ``error`` (one of ``ERROR_NAMES``).

        ``"unprepared"`` answers EXECUTE and BATCH only (with the id of the statement executed, or of the
        batch's first prepared statement); the driver re-prepares and retries at once, so give it ``times``:
        a rule that never expires makes the driver re-prepare forever.
        """
        if error not in _CODES:
            raise ValueError(f"Unknown error {error!r}; expected one of {sorted(_CODES)}")
        kinds: frozenset[str] | None
        if error == "unprepared":
            kinds = _kinds(messages) or _UNPREPARED_MESSAGES
            if not kinds <= _UNPREPARED_MESSAGES:
                raise ValueError(f"error 'unprepared' applies to EXECUTE and BATCH only, got messages={messages!r}")
        else:
            kinds = _kinds(messages if messages is not None or query is not None else ("QUERY", "EXECUTE", "BATCH"))
        rule = Rule(kinds, _compile(query), delay, error, message, times)
        return self._add(rule)

    @property
    def active(self) -> bool:
        """Whether any rule is set (read without the lock: the fast path of every request)."""
        return bool(self._rules)

    def black_hole(self, enabled: bool = True) -> None:
        """Accept connections and read requests, but never answer any (the driver times out)."""
        self.black_holed = enabled

    def refuse_connections(self) -> None:
        """Close the listening socket: new connections are refused (open ones stay)."""
        self._set_listening(False)

    def accept_connections(self) -> None:
        """Listen again on the same address and port."""
        self._set_listening(True)

    def close_connections(self) -> int:
        """Drop every open client connection abruptly; returns how many were open."""
        return self._abort_connections()

    def clear(self) -> None:
        """Remove every rule, leave black-hole mode and listen again if connections were refused."""
        with self._lock:
            self._rules.clear()
        self.black_holed = False
        self._set_listening(True)

    def remove(self, rule: Rule) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def match(self, kind: str, texts: Iterable[str]) -> Rule | None:
        """The first live rule for this request (consuming one of its ``times``), if any."""
        if not self._rules:  # fast path, read without the lock: rules change rarely
            return None
        texts = list(texts)
        with self._lock:
            for rule in self._rules:
                if rule.matches(kind, texts):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining <= 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def _add(self, rule: Rule) -> Rule:
        if rule.remaining is not None and rule.remaining <= 0:
            raise ValueError(f"times must be a positive count, got {rule.remaining!r}")
        with self._lock:
            self._rules.append(rule)
        return rule


def _compile(query: str | None) -> re.Pattern[str] | None:
    return None if query is None else re.compile(query, re.IGNORECASE)


_TEXT_OPCODES = frozenset({frames.QUERY, frames.PREPARE, frames.EXECUTE, frames.BATCH})


def request_texts(frame: frames.Frame, version: int, hub: EventHub) -> list[str]:
    """Query texts of a request, for rules matching a regex (for EXECUTE, the text it was prepared from)."""
    if frame.opcode not in _TEXT_OPCODES:
        return []
    try:
        r = decode.reader(frame.body, frame.flags, frames.FLAG_CUSTOM_PAYLOAD)
        if frame.opcode in (frames.QUERY, frames.PREPARE):
            return [r.long_string()]
        if frame.opcode == frames.EXECUTE:
            return [hub.prepared_text(r.short_bytes()) or ""]
        batch = decode.batch(r, version)
        return [s if isinstance(s, str) else hub.prepared_text(s) or "" for s, _ in batch.statements]
    except Malformed:
        return []


def request_query_id(frame: frames.Frame, version: int) -> bytes:
    """The prepared id an EXECUTE runs (for BATCH, its first prepared statement's), for an injected Unprepared."""
    try:
        r = decode.reader(frame.body, frame.flags, frames.FLAG_CUSTOM_PAYLOAD)
        if frame.opcode == frames.EXECUTE:
            return r.short_bytes()
        if frame.opcode == frames.BATCH:
            return next((bytes(s) for s, _ in decode.batch(r, version).statements if not isinstance(s, str)), b"")
    except Malformed:
        pass
    return b""
