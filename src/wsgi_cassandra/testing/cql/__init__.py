"""The CQL engine of the test server: parser, types, in-memory store, system tables and executor.

The protocol layer (``wsgi_cassandra.testing``) calls one ``Engine`` per emulated cluster, passing the
``NodeInfo`` of the node that received the request. See the README ("Supported CQL subset") for the CQL supported.
"""

from __future__ import annotations

from .engine import Engine
from .node import NodeInfo

__all__ = ["Engine", "NodeInfo"]
