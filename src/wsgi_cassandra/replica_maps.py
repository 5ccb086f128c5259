"""After the connect: build what the driver would otherwise build on a worker's first request.

Token-aware routing looks up a keyspace's token -> replicas map, which the driver builds lazily
(``TokenMap.get_replicas`` -> ``rebuild_keyspace``) on the first query routed to that keyspace. With vnodes
(256 tokens per node) and ``NetworkTopologyStrategy`` that is real work, paid by whichever request comes
first. We build the maps of the keyspaces the app uses during the warm-up instead.

(Running a few throw-away queries to "warm" the driver's request path was measured too, and made no
difference worth a query at boot: the rest of a first request's extra cost is the HTTP server's and the
interpreter's, the same with or without this library; see ``bench/first_request.py``.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cassandra.cluster import Cluster

__all__ = ["build_replica_maps"]

log = logging.getLogger(__name__)


def build_replica_maps(cluster: Cluster, keyspaces: Iterable[str]) -> list[str]:
    """Build the replica map of each keyspace whose metadata is known; return those built.

    An optimisation only: any failure is logged at debug level and the first request builds it instead.
    """
    token_map = getattr(getattr(cluster, "metadata", None), "token_map", None)
    if token_map is None:  # token metadata disabled, or a partitioner the driver cannot route by
        return []
    built = []
    try:
        for keyspace in keyspaces:
            if keyspace in cluster.metadata.keyspaces:
                token_map.rebuild_keyspace(keyspace, build_if_absent=True)
                built.append(keyspace)
    except Exception as exc:
        log.debug("replica maps not pre-built: %s: %s", type(exc).__name__, exc)
    return built
