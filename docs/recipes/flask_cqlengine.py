from cassandra.cqlengine import columns
from cassandra.cqlengine.models import Model
from flask import Flask, abort

from wsgi_cassandra import CassandraMiddleware


class Item(Model):  # its keyspace is CASSANDRA_KEYSPACE; no connection.setup() anywhere
    __table_name__ = "items"
    id = columns.Integer(primary_key=True)
    name = columns.Text()


app = Flask(__name__)


@app.get("/items")
def items():
    return {"items": [item.name for item in Item.objects.all()]}


@app.get("/items/<int:item_id>")
def item(item_id):
    try:
        return {"name": Item.get(id=item_id).name}
    except Item.DoesNotExist:
        abort(404)


# Each worker registers the session it built with cqlengine, after the fork and before its first request.
app.wsgi_app = CassandraMiddleware(app.wsgi_app, cqlengine=True)
