from celery import Celery

from wsgi_cassandra.celery import CeleryCassandra

app = Celery("tasks")
cassandra = CeleryCassandra(app)  # each pool process: connects after the fork, closes before it exits


@app.task
def item_names():
    return sorted(row.name for row in cassandra.session().execute("SELECT id, name FROM items"))
