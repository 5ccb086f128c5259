import web

from wsgi_cassandra import CassandraMiddleware

urls = ("/items", "Items")


class Items:
    def GET(self):
        session = web.ctx.env["cassandra.session"]
        return "\n".join(row.name for row in session.execute("SELECT id, name FROM items"))


web.config.debug = False  # production: no reloader checking files on every request
app = web.application(urls, globals())
application = CassandraMiddleware(app.wsgifunc())
