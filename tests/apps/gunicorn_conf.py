"""A user's gunicorn.conf.py that already has a post_fork hook, composed with ours by ``chain``."""

from __future__ import annotations

import os
import sys
from typing import Any

from wsgi_cassandra.gunicorn import chain


def post_fork(server: Any, worker: Any) -> None:
    print(f"user post_fork ran in pid {os.getpid()}", file=sys.stderr, flush=True)


globals().update(chain(post_fork=post_fork))
