"""What a test server saw: connections, handshakes, requests by kind, client addresses, consistency levels.

Tests assert on these facts ("each worker connected once", "no connection leaked after shutdown"), so
the counters are updated under a lock by the server thread and read as consistent snapshots; waiting for
a value is a bounded poll (deadline, fixed step), never an open-ended loop::

    server.stats.wait_for("connections_open", 0, timeout=5)
    assert server.stats.snapshot().requests["STARTUP"] == 1
    assert server.stats.snapshot().consistencies[("QUERY", "QUORUM", "LOCAL_SERIAL")] == 1
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class StatsSnapshot:
    connections_opened: int = 0
    connections_open: int = 0
    startups: int = 0
    authentications: int = 0
    protocol_errors: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    client_addresses: list[tuple[str, int]] = field(default_factory=list)
    # (QUERY/EXECUTE/BATCH, consistency, serial consistency or None) -> how many requests carried them
    consistencies: dict[tuple[str, str, str | None], int] = field(default_factory=dict)
    # STARTUP's COMPRESSION ("lz4", "snappy") -> how many connections negotiated it
    compressions: dict[str, int] = field(default_factory=dict)

    def __add__(self, other: StatsSnapshot) -> StatsSnapshot:
        return StatsSnapshot(
            self.connections_opened + other.connections_opened,
            self.connections_open + other.connections_open,
            self.startups + other.startups,
            self.authentications + other.authentications,
            self.protocol_errors + other.protocol_errors,
            dict(Counter(self.requests) + Counter(other.requests)),
            self.client_addresses + other.client_addresses,
            dict(Counter(self.consistencies) + Counter(other.consistencies)),
            dict(Counter(self.compressions) + Counter(other.compressions)),
        )

    def value(self, name: str) -> int:
        """A counter by name: an attribute (``startups``) or ``requests.<KIND>`` (``requests.QUERY``)."""
        if name.startswith("requests."):
            return self.requests.get(name[len("requests.") :], 0)
        if name not in _COUNTERS:
            raise ValueError(f"Unknown counter {name!r}; expected one of {_COUNTERS} or requests.<KIND>")
        return int(getattr(self, name))


# The protocol's [consistency] codes (native_protocol_v4.spec, section 3).
_LEVELS = dict(
    enumerate(
        [
            *("ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM"),
            *("SERIAL", "LOCAL_SERIAL", "LOCAL_ONE"),
        ]
    )
)

_COUNTERS = ("connections_opened", "connections_open", "startups", "authentications", "protocol_errors")


class _Waitable:
    """Reading and ``wait_for`` over any source of snapshots (one server, or the sum over a cluster)."""

    def snapshot(self) -> StatsSnapshot:
        raise NotImplementedError

    @property
    def connections_opened(self) -> int:
        return self.snapshot().connections_opened

    @property
    def connections_open(self) -> int:
        return self.snapshot().connections_open

    @property
    def startups(self) -> int:
        return self.snapshot().startups

    @property
    def requests(self) -> dict[str, int]:
        return self.snapshot().requests

    @property
    def client_addresses(self) -> list[tuple[str, int]]:
        return self.snapshot().client_addresses

    @property
    def consistencies(self) -> dict[tuple[str, str, str | None], int]:
        return self.snapshot().consistencies

    @property
    def compressions(self) -> dict[str, int]:
        return self.snapshot().compressions

    def wait_for(
        self,
        name: str,
        value: int,
        *,
        timeout: float = 5.0,
        compare: Callable[[int, int], bool] | None = None,
    ) -> int:
        """Poll until counter ``name`` equals ``value`` (or ``compare(current, value)``); return it.

        Raises ``TimeoutError`` naming the counter and its last value once ``timeout`` seconds pass.
        """
        check = compare or (lambda current, wanted: current == wanted)
        deadline = time.monotonic() + timeout
        for _ in range(max(1, int(timeout / 0.01)) + 1):
            current = self.snapshot().value(name)
            if check(current, value):
                return current
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        raise TimeoutError(f"Counter {name} is {current} after {timeout:.1f}s, expected {value}")


class Stats(_Waitable):
    """Thread-safe counters of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._opened = self._open = self._startups = self._auths = self._protocol_errors = 0
        self._requests: Counter[str] = Counter()
        self._addresses: list[tuple[str, int]] = []
        self._consistencies: Counter[tuple[str, str, str | None]] = Counter()
        self._compressions: Counter[str] = Counter()

    def reset(self) -> None:
        """Zero every counter except ``connections_open``, which keeps describing live connections."""
        with self._lock:
            still_open = self._open
            self._reset()
            self._open = still_open

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                self._opened,
                self._open,
                self._startups,
                self._auths,
                self._protocol_errors,
                dict(self._requests),
                list(self._addresses),
                dict(self._consistencies),
                dict(self._compressions),
            )

    def connection_opened(self, peer: tuple[str, int]) -> None:
        with self._lock:
            self._opened += 1
            self._open += 1
            self._addresses.append(peer)

    def connection_closed(self) -> None:
        with self._lock:
            self._open -= 1

    def request(self, kind: str) -> None:
        with self._lock:
            self._requests[kind] += 1
            if kind == "STARTUP":
                self._startups += 1

    def consistency(self, kind: str, level: int, serial: int | None) -> None:
        """The consistency (and serial consistency) a QUERY, EXECUTE or BATCH asked for."""
        key = (kind, _LEVELS.get(level, str(level)), None if serial is None else _LEVELS.get(serial, str(serial)))
        with self._lock:
            self._consistencies[key] += 1

    def compression(self, algorithm: str) -> None:
        """A connection's STARTUP negotiated ``algorithm``."""
        with self._lock:
            self._compressions[algorithm] += 1

    def authenticated(self) -> None:
        with self._lock:
            self._auths += 1

    def protocol_error(self) -> None:
        with self._lock:
            self._protocol_errors += 1


class ClusterStats(_Waitable):
    """The sum of several servers' stats, read live."""

    def __init__(self, parts: Callable[[], list[Stats]]) -> None:
        self._parts = parts

    def snapshot(self) -> StatsSnapshot:
        total = StatsSnapshot()
        for part in self._parts():
            total = total + part.snapshot()
        return total

    def reset(self) -> None:
        for part in self._parts():
            part.reset()
