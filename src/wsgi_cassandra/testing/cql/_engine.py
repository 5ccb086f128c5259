"""``Engine``: the CQL side of the test server, shared by every node of one emulated cluster.

Usage (the server runtime does this per request)::

    engine = Engine(release_version="4.1.5")
    engine.set_nodes([node1, node2, node3])
    result = engine.execute("SELECT * FROM system.local WHERE key='local'", keyspace=None, node=node1,
                            protocol_version=4)

Statements are parsed once and planned once per (query, keyspace); a prepared EXECUTE is a cache
lookup, the decoding of its bound values and the plan's run. One re-entrant lock serializes every
statement: simple, and far faster than any client can drive it over sockets.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable

from ._context import Call, State
from ._errors import CQLError, InvalidRequest, ServerError, Unprepared
from ._results import Prepared, Result
from .parse._parser import parse
from .plan._build import Plan, WritePlan, build, run_batch, still_valid
from .plan._modify import DeletePlan, InsertPlan, UpdatePlan
from .schema._catalog import Catalog
from .system._tables import build_system_keyspaces
from .values._bind import RawValues, decode

if TYPE_CHECKING:
    import uuid

    from ._ast import Statement
    from ._node_info import NodeInfo

log = logging.getLogger(__name__)
_CACHE_LIMIT = 5000


class Engine:
    def __init__(
        self,
        *,
        release_version: str = "4.1.5",
        cluster_name: str = "Test Cluster",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.release_version = release_version
        self.cluster_name = cluster_name
        catalog = Catalog()
        for ks in build_system_keyspaces(not release_version.startswith(("2.", "3."))):
            catalog.keyspaces[ks.name] = ks
        self._state = State(catalog, clock, release_version, cluster_name)
        self._lock = threading.RLock()
        self._parsed: dict[str, tuple[Statement, int]] = {}
        self._plans: dict[tuple[str, str | None], Plan] = {}
        self._prepared: dict[bytes, tuple[str, str | None]] = {}

    @property
    def schema_version(self) -> uuid.UUID:
        return self._state.catalog.version

    def set_nodes(self, nodes: Sequence[NodeInfo]) -> None:
        with self._lock:
            self._state.nodes = tuple(nodes)

    # -- public API -------------------------------------------------------------------------------------
    def execute(
        self,
        query: str,
        values: RawValues = None,
        *,
        keyspace: str | None,
        node: NodeInfo,
        protocol_version: int,
        page_size: int | None = None,
        paging_state: bytes | None = None,
    ) -> Result:
        with self._lock, _no_crash(query):
            plan = self._plan(query, keyspace, rebuild=True)
            return self._run(plan, values, keyspace, node, protocol_version, page_size, paging_state)

    def prepare(self, query: str, *, keyspace: str | None, node: NodeInfo) -> Prepared:
        with self._lock, _no_crash(query):
            plan = self._plan(query, keyspace, rebuild=True)
            query_id = _query_id(query, keyspace)
            self._prepared[query_id] = (query, keyspace)
            return Prepared(query_id, plan.bind_columns, plan.pk_indexes, plan.result_columns)

    def execute_prepared(
        self,
        query_id: bytes,
        values: RawValues = None,
        *,
        keyspace: str | None,
        node: NodeInfo,
        protocol_version: int,
        page_size: int | None = None,
        paging_state: bytes | None = None,
    ) -> Result:
        with self._lock:
            query, prepared_ks = self._lookup(query_id)
            with _no_crash(query):
                plan = self._prepared_plan(query_id, query, prepared_ks)
                return self._run(plan, values, prepared_ks or keyspace, node, protocol_version, page_size, paging_state)

    def batch(
        self,
        statements: Sequence[tuple[str | bytes, RawValues]],
        *,
        keyspace: str | None,
        node: NodeInfo,
        protocol_version: int,
    ) -> Result:
        with self._lock, _no_crash("BATCH"):
            items: list[tuple[WritePlan, list[Any]]] = []
            for query_or_id, values in statements:
                if isinstance(query_or_id, bytes):
                    query, prepared_ks = self._lookup(query_or_id)
                    plan = self._prepared_plan(query_or_id, query, prepared_ks)
                else:
                    plan = self._plan(query_or_id, keyspace, rebuild=True)
                if not isinstance(plan, (InsertPlan, UpdatePlan, DeletePlan)):
                    raise InvalidRequest("Only INSERT, UPDATE and DELETE statements are allowed in a BATCH")
                items.append((plan, decode(values, plan.bind_columns, plan.bind_types, protocol_version)))
            return run_batch(Call(self._state, node, protocol_version, keyspace), items)

    # -- internals --------------------------------------------------------------------------------------
    def _lookup(self, query_id: bytes) -> tuple[str, str | None]:
        found = self._prepared.get(bytes(query_id))
        if found is None:
            raise Unprepared(f"Prepared query with ID {bytes(query_id).hex()} not found", query_id=bytes(query_id))
        return found

    def _prepared_plan(self, query_id: bytes, query: str, keyspace: str | None) -> Plan:
        plan = self._plans.get((query, keyspace))
        if plan is None or not still_valid(plan, self._state.catalog):
            # Like Cassandra, dropping a table forgets the statements prepared on it.
            self._plans.pop((query, keyspace), None)
            self._prepared.pop(bytes(query_id), None)
            raise Unprepared(f"Prepared query with ID {bytes(query_id).hex()} not found", query_id=bytes(query_id))
        return plan

    def _plan(self, query: str, keyspace: str | None, *, rebuild: bool) -> Plan:
        key = (query, keyspace)
        plan = self._plans.get(key)
        if plan is not None and still_valid(plan, self._state.catalog):
            return plan
        parsed = self._parsed.get(query)
        if parsed is None:
            parsed = parse(query)
            if len(self._parsed) >= _CACHE_LIMIT:
                self._parsed.clear()
            self._parsed[query] = parsed
        plan = build(parsed[0], parsed[1], self._state.catalog, keyspace)
        if len(self._plans) >= _CACHE_LIMIT:
            self._plans = {k: self._plans[k] for k in self._prepared.values() if k in self._plans}
        self._plans[key] = plan
        return plan

    def _run(  # noqa: PLR0917 - private, mirrors execute()'s arguments
        self,
        plan: Plan,
        values: RawValues,
        keyspace: str | None,
        node: NodeInfo,
        protocol_version: int,
        page_size: int | None,
        paging_state: bytes | None,
    ) -> Result:
        bound = decode(values, plan.bind_columns, plan.bind_types, protocol_version) if plan.bind_columns else []
        if values and not plan.bind_columns:
            decode(values, plan.bind_columns, plan.bind_types, protocol_version)
        return plan.run(Call(self._state, node, protocol_version, keyspace), bound, page_size, paging_state)


def _query_id(query: str, keyspace: str | None) -> bytes:
    return hashlib.md5(((keyspace or "") + query).encode("utf-8")).digest()


class _no_crash:
    """Any exception that is not a CQL error becomes a ServerError naming it: never crash the server."""

    def __init__(self, query: str) -> None:
        self.query = query

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, CQLError) or not isinstance(exc, Exception):
            return
        log.exception("wsgi_cassandra test server: internal error on %r", self.query)
        raise ServerError(f"wsgi_cassandra test server: internal error: {type(exc).__name__}: {exc}") from exc


_ = Mapping
