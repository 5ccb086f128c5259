"""wsgi-cassandra: a ready, fork-safe Cassandra session in every WSGI worker."""

from __future__ import annotations
