"""Target: how tests reach Cassandra, as driver arguments, middleware settings and child-process env."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cassandra.cluster import Cluster

    from wsgi_cassandra.testing import CQLServer

# The variables a real-cluster run may set; passed on to servers the tests start.
PASSED_ON = (
    "CASSANDRA_CONTACT_POINTS",
    "CASSANDRA_PORT",
    "CASSANDRA_USERNAME",
    "CASSANDRA_PASSWORD",
    "CASSANDRA_PASSWORD_FILE",
    "CASSANDRA_LOCAL_DC",
    "CASSANDRA_PROTOCOL_VERSION",
)


@dataclass
class Target:
    contact_points: tuple[str, ...]
    port: int
    server: CQLServer | None = None
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_server(cls, server: CQLServer) -> Target:
        env = {"CASSANDRA_CONTACT_POINTS": server.host, "CASSANDRA_PORT": str(server.port)}
        return cls(contact_points=(server.host,), port=server.port, server=server, env=env)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Target:
        from wsgi_cassandra.config import Settings

        settings = Settings.resolve({}, environ)
        env = {name: environ[name] for name in PASSED_ON if name in environ}
        return cls(contact_points=settings.contact_points, port=settings.port, env=env)

    @property
    def embedded(self) -> CQLServer:
        """The test server, for tests that count its handshakes or inject faults."""
        if self.server is None:
            pytest.skip("needs the embedded CQL test server (CASSANDRA_CONTACT_POINTS points at a real cluster)")
        return self.server

    def middleware_kwargs(self) -> dict[str, Any]:
        """Connection settings for ``CassandraMiddleware``/``Settings.resolve``, from this target only."""
        return {"environ": {**self.env}}

    def cluster(self, **kwargs: Any) -> Cluster:
        """A plain driver Cluster for setup and checks (the same settings the middleware would use)."""
        from cassandra.cluster import Cluster

        from wsgi_cassandra.config import Settings
        from wsgi_cassandra.driver import cluster_kwargs

        settings = Settings.resolve({}, self.env)
        return Cluster(**{**cluster_kwargs(settings), **kwargs})

    def subprocess_env(self, **extra: str) -> dict[str, str]:
        """The environment for a uwsgi/gunicorn child: ours, minus stray Cassandra settings, plus target."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CASSANDRA_", "WSGI_CASSANDRA_"))}
        env.update(self.env)
        env.update(extra)
        return env
