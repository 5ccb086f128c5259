from flask import Flask, request

from wsgi_cassandra import CassandraMiddleware

app = Flask(__name__)


@app.get("/items")
def items():
    session = request.environ["cassandra.session"]
    return {"items": [row.name for row in session.execute("SELECT id, name FROM items")]}


app.wsgi_app = CassandraMiddleware(app.wsgi_app)  # `app` stays the Flask object: `flask run`, gunicorn app:app
