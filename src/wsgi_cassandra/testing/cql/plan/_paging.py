"""The paging state: where the last row of a page was, so the next page starts right after it.

Opaque to the client; here it is a small JSON document (token, partition key, clustering key, rows left
under LIMIT) so it stays valid across schema-unrelated writes and is easy to inspect when debugging.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .._errors import ProtocolError


@dataclass(frozen=True)
class Position:
    token: int = 0
    key: bytes | None = None  # serialized partition key; None for system tables (offset based)
    ckey: tuple[bytes, ...] | None = None  # None: the partition's static-only row / no clustering
    offset: int = 0


def encode_state(position: Position, remaining: int | None) -> bytes:
    doc = {
        "t": position.token,
        "k": position.key.hex() if position.key is not None else None,
        "c": [c.hex() for c in position.ckey] if position.ckey is not None else None,
        "o": position.offset,
        "r": remaining,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_state(state: bytes | None) -> tuple[Position | None, int | None]:
    if not state:
        return None, None
    try:
        doc = json.loads(state)
        key = bytes.fromhex(doc["k"]) if doc["k"] is not None else None
        ckey = tuple(bytes.fromhex(c) for c in doc["c"]) if doc["c"] is not None else None
        return Position(int(doc["t"]), key, ckey, int(doc["o"])), doc["r"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"Invalid paging state: {exc}") from None
