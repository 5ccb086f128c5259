# Flask, quiet during an outage: one log line per request instead of a traceback.
from flask import Flask, request

from wsgi_cassandra import CassandraMiddleware, SessionUnavailable

app = Flask(__name__)


@app.get("/items")
def items():
    session = request.environ["cassandra.session"]
    return {"items": [row.name for row in session.execute("SELECT id, name FROM items")]}


@app.errorhandler(SessionUnavailable)
def cassandra_unavailable(error):
    # Handled here, so Flask logs no traceback. The client still gets the middleware's 503 (Retry-After and
    # the cause), which replaces this response; each worker logs the cause itself once per connect attempt.
    app.logger.warning("Cassandra unavailable: %s", error)
    return "Cassandra unavailable", 503


app.wsgi_app = CassandraMiddleware(app.wsgi_app)
