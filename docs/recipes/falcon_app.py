import falcon

from wsgi_cassandra import CassandraMiddleware


class Items:
    def on_get(self, req, resp):
        session = req.env["cassandra.session"]
        resp.media = {"items": [row.name for row in session.execute("SELECT id, name FROM items")]}


app = falcon.App()
app.add_route("/items", Items())
application = CassandraMiddleware(app)
