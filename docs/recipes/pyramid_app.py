from pyramid.config import Configurator

from wsgi_cassandra import CassandraMiddleware
from wsgi_cassandra.webob import cassandra_session


def items(request):
    rows = request.cassandra.execute("SELECT id, name FROM items")
    return {"items": [row.name for row in rows]}


with Configurator() as config:
    config.add_request_method(cassandra_session, "cassandra", reify=True)  # request.cassandra
    config.add_route("items", "/items")
    config.add_view(items, route_name="items", renderer="json")
    application = CassandraMiddleware(config.make_wsgi_app())
