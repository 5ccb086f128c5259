"""The items app, with the driver imported first: its default connection class is fixed before any
monkey-patching (what ``--preload`` with a gevent worker, or an app importing the driver early, does)."""

from __future__ import annotations

import cassandra.cluster  # noqa: F401 - imported on purpose before the app and before any patching

from tests.apps.items import application

__all__ = ["application"]
