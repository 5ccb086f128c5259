"""Gunicorn settings for the example: two pre-forked workers, each warmed by wsgi-cassandra's hooks.

    gunicorn -c gunicorn.conf.py                 # http://127.0.0.1:8000; --bind HOST:PORT to change

``post_fork`` / ``post_worker_init`` / ``worker_exit`` build each worker's session after the fork and
before it accepts a request, and close it when the worker exits.
"""

from __future__ import annotations

from pathlib import Path

from wsgi_cassandra.gunicorn import post_fork, post_worker_init, worker_exit

__all__ = [  # the names Gunicorn reads
    "bind",
    "chdir",
    "control_socket_disable",
    "post_fork",
    "post_worker_init",
    "worker_exit",
    "workers",
    "wsgi_app",
]

chdir = str(Path(__file__).resolve().parent)
wsgi_app = "app:application"
bind = ["127.0.0.1:8000"]
workers = 2
control_socket_disable = True  # no shared ~/.gunicorn/gunicorn.ctl between servers (older Gunicorn ignores it)
