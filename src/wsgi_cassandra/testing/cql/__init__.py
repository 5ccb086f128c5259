"""The CQL engine of the test server: CQL text in, results out, every table in memory.

The server runtime (:mod:`..server`) calls one :class:`Engine` per emulated cluster, passing the
:class:`NodeInfo` of the node that received the request. The engine knows nothing of the native protocol:
it returns engine values (rows, void, schema change ...) and raises its own errors, which the runtime turns
into RESULT and ERROR messages. See the README ("Supported CQL subset") for the CQL supported.

* ``_engine`` -- :class:`Engine`: parse once, plan once, run under one lock; prepared statements.
* ``_results`` -- what a statement returns (:class:`Rows`, :class:`Void`, :class:`SchemaChange` ...);
  ``_errors`` -- what it raises (:class:`CQLError` and one subclass per error code).
* :mod:`.parse` -- CQL text to statement trees (``_ast``): lexer, token stream, DDL and DML grammars.
* :mod:`.plan` -- a statement tree to a plan, and its run: SELECT (restrictions, selectors, paging),
  INSERT/UPDATE/DELETE (conditions, mutations), BATCH.
* :mod:`.schema` -- the catalog (keyspaces, tables, types, indexes) and the DDL that changes it; DESCRIBE.
* :mod:`.values` -- CQL types, literals, bound values, native functions, JSON.
* :mod:`.system` -- the ``system`` and ``system_schema`` tables, built from the catalog and the nodes.
* ``_store`` (rows and cells of the user tables) and ``_context`` (what a statement runs against).

A leading underscore marks a module private to this package: only the names above are used from outside.
"""

from __future__ import annotations

from ._engine import Engine
from ._errors import (
    AlreadyExists,
    ConfigError,
    CQLError,
    CQLSyntaxError,
    InvalidRequest,
    ProtocolError,
    ServerError,
    Unauthorized,
    Unprepared,
)
from ._node_info import NodeInfo
from ._results import UNSET, Column, Prepared, Result, Rows, SchemaChange, SetKeyspace, Unset, Void

__all__ = [
    "UNSET",
    "AlreadyExists",
    "CQLError",
    "CQLSyntaxError",
    "Column",
    "ConfigError",
    "Engine",
    "InvalidRequest",
    "NodeInfo",
    "Prepared",
    "ProtocolError",
    "Result",
    "Rows",
    "SchemaChange",
    "ServerError",
    "SetKeyspace",
    "Unauthorized",
    "Unprepared",
    "Unset",
    "Void",
]
