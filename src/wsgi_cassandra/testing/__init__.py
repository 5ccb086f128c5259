"""A real CQL native-protocol server for tests, demos and fault drills (see docs/testing-server.md).

Importing this package starts no thread, opens no socket and loads none of the server's modules (the pytest
plugin imports it at every pytest start-up); the names below load on first use, servers start when asked::

    from wsgi_cassandra.testing import CQLServer, CQLCluster
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import CQLCluster, CQLServer, CQLServerError, ServerProcess

__all__ = ["CQLCluster", "CQLServer", "CQLServerError", "ServerProcess"]

_WHERE = {name: ".server" for name in __all__}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
