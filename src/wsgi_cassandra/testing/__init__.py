"""A real CQL native-protocol server for tests, demos and fault drills (see docs/testing-server.md).

Importing this package starts no thread and opens no socket; servers start when asked::

    from wsgi_cassandra.testing import CQLServer, CQLCluster
"""

from __future__ import annotations

from .cluster import CQLCluster
from .process import ServerProcess
from .server import CQLServer, CQLServerError

__all__ = ["CQLCluster", "CQLServer", "CQLServerError", "ServerProcess"]
