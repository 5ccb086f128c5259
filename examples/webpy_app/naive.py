"""The same page, connecting to Cassandra inside every request: what wsgi-cassandra replaces.

Only ``bench/demo.py`` serves this, to show the difference. ``Cluster(...).connect()`` negotiates the
protocol, opens a control connection, reads the topology and the whole schema and opens pools, and the
query must be prepared again on each new session -- all of it on every request.
"""

from __future__ import annotations

import os

import web
from cassandra.cluster import Cluster
from greetings import KEYSPACE, SELECT, render

from wsgi_cassandra.config import Settings
from wsgi_cassandra.driver import cluster_kwargs

urls = ("/", "Index")
settings = Settings.resolve({}, os.environ)  # the same CASSANDRA_* settings the middleware would use


class Index:
    def GET(self) -> str:
        cluster = Cluster(**cluster_kwargs(settings))
        try:
            session = cluster.connect(KEYSPACE)
            web.header("Content-Type", "text/plain; charset=utf-8")
            return render(session, session.prepare(SELECT), how="naive: Cluster().connect() inside the request")
        finally:
            cluster.shutdown()


web.config.debug = False  # production: no reloader checking files on every request
app = web.application(urls, globals())
application = app.wsgifunc()
