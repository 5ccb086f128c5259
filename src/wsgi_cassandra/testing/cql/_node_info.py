"""One node of the emulated cluster, as the engine needs to know it to answer system tables.

The server runtime owns the sockets; the engine only needs the facts a real node would report about
itself (``system.local``) and about the others (``system.peers`` / ``system.peers_v2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uuid


@dataclass(frozen=True)
class NodeInfo:
    address: str  # "127.0.0.2"
    port: int  # native transport port
    host_id: uuid.UUID
    tokens: tuple[str, ...]  # Murmur3 tokens as decimal strings
    datacenter: str = "datacenter1"
    rack: str = "rack1"
