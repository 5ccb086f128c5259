"""The classic web.py app, done right: one warmed Cassandra session per worker, a prepared query per request.

``application`` is what Gunicorn (``gunicorn.conf.py``) and uWSGI (``uwsgi.ini``) serve. The middleware
builds each worker's session after the fork and before the first request, and prepares the declared
statements during that warm-up; the handler only reads both from ``web.ctx.env``. Connection settings
come from the ``CASSANDRA_*`` environment variables.
"""

from __future__ import annotations

import logging

import web
from greetings import KEYSPACE, SELECT, render

from wsgi_cassandra import CassandraMiddleware

urls = ("/", "Index")


class Index:
    def GET(self) -> str:
        session = web.ctx.env["cassandra.session"]  # this worker's ready cassandra.cluster.Session
        greetings = web.ctx.env["cassandra.statements"]["greetings"]  # prepared once, during the warm-up
        web.header("Content-Type", "text/plain; charset=utf-8")
        return render(session, greetings, how="wsgi-cassandra: session warmed once per worker")


def _show_warmup_logs() -> None:
    # The servers configure only their own loggers: show each worker's "session ready in X ms" line too.
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s [%(process)d] %(name)s %(levelname)s: %(message)s")
    logging.getLogger("wsgi_cassandra").setLevel(logging.INFO)


_show_warmup_logs()
web.config.debug = False  # production: no reloader checking files on every request
app = web.application(urls, globals())
application = CassandraMiddleware(
    app.wsgifunc(),
    keyspace=KEYSPACE,
    statements={"greetings": SELECT},
    health_path="/healthz",
)
