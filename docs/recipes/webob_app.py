from webob.dec import wsgify

from wsgi_cassandra import CassandraMiddleware
from wsgi_cassandra.webob import Request


@wsgify(RequestClass=Request)
def app(request):
    return "\n".join(row.name for row in request.cassandra.execute("SELECT name FROM items"))


application = CassandraMiddleware(app)
