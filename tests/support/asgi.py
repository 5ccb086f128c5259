"""Call an ASGI app in-process, the way a server would: HTTP requests and the lifespan protocol.

::

    status, headers, body = http_call(app, "/items")      # one request, in a new event loop
    status, headers, body = serve_once(app, "/items")     # lifespan start-up, the request, shutdown

    lifespan = Lifespan(app)                              # inside a running loop
    await lifespan.start()                                # ... "lifespan.startup.complete" sent
    await lifespan.stop()                                 # ... the app's lifespan task has ended
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import MutableMapping

Reply = tuple[int, dict[str, str], bytes]


class Lifespan:
    """The server's side of the lifespan protocol for ``app``; every wait is bounded by ``timeout``."""

    def __init__(self, app: Any, *, timeout: float = 30.0) -> None:
        self.app = app
        self.timeout = timeout
        self.sent: list[str] = []
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sent_one = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(message["type"])
        self._sent_one.set()

    async def start(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.create_task(self.app(scope, self._receive, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        await self._wait_sent("lifespan.startup.complete")

    async def stop(self) -> None:
        assert self._task is not None, "start() first"
        await self._inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._task, timeout=self.timeout)
        assert "lifespan.shutdown.complete" in self.sent, self.sent

    async def _wait_sent(self, kind: str) -> None:
        for _ in range(10):  # a few messages at most: startup, shutdown, their answers
            if kind in self.sent:
                return
            self._sent_one.clear()
            await asyncio.wait_for(self._sent_one.wait(), timeout=self.timeout)
        raise AssertionError(f"{kind} never sent; sent {self.sent}")


async def request(app: Any, path: str = "/") -> Reply:
    """One GET through ``app``; like a server, ``send`` refuses a second response start. Returns the
    status, the headers (lower-case names) and the body."""
    messages: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and any(m["type"] == message["type"] for m in messages):
            raise RuntimeError("response already started")
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return int(start["status"]), headers, body


def http_call(app: Any, path: str = "/") -> Reply:
    """:func:`request` in a new event loop (no lifespan: what ``uvicorn --lifespan off`` does)."""
    return asyncio.run(request(app, path))


def serve_once(app: Any, path: str = "/") -> Reply:
    """In a new event loop: the lifespan start-up, one :func:`request`, the lifespan shutdown."""

    async def run() -> Reply:
        lifespan = Lifespan(app)
        await lifespan.start()
        try:
            return await request(app, path)
        finally:
            await lifespan.stop()

    return asyncio.run(run())
