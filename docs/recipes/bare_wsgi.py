from wsgi_cassandra import CassandraMiddleware


def app(environ, start_response):
    session = environ["cassandra.session"]  # this worker's ready cassandra.cluster.Session
    names = [row.name for row in session.execute("SELECT id, name FROM items")]
    body = "\n".join(names).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


application = CassandraMiddleware(app)
