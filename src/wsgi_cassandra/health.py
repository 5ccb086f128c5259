"""The readiness endpoint: what a load balancer or a Kubernetes probe asks a worker.

Off by default; ``WSGI_CASSANDRA_HEALTH_PATH=/healthz`` (or ``health_path="/healthz"``) turns it on. The
middleware answers that path itself, without calling the app: ``200`` with a small JSON body when this
worker's session is ready, ``503`` (with ``Retry-After``) otherwise::

    {"state": "ready", "pid": 4242, "hosts_up": 3, "hosts": 3, "attempts": 1,
     "warmup_ms": {"control_connection": 9.1, "topology": 2.0, "schema": 24.3, "pools": 8.2},
     "warmup_total_ms": 43.6}

``state`` is ``ready``, ``connecting``, ``unavailable`` (the last attempt failed: ``last_error`` says why,
without secrets, and ``retry_in_s`` when the next attempt starts), ``hosts_down`` (connected, but every
host is down: the driver reconnects by itself) or ``closed`` (shut down: the worker is stopping). The body
is :class:`wsgi_cassandra.holder.Status`. Asking never connects and never waits: a probe must not pile up
behind a slow Cassandra.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from .holder import SessionHolder

__all__ = ["health_response"]


def health_response(holder: SessionHolder, start_response: StartResponse) -> list[bytes]:
    status = holder.status()
    ready = status["state"] == "ready"
    if not ready and status["state"] == "connecting" and status["attempts"] == 0:
        holder.start()  # a probe before any request still gets the worker connecting (in the background)
    body = json.dumps(status, sort_keys=True).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    if not ready:
        headers.append(("Retry-After", str(holder.unavailable().retry_after)))
    start_response("200 OK" if ready else "503 Service Unavailable", headers)
    return [body]
