"""Importing the package must start nothing: no thread, no socket, no uwsgi/gunicorn, no driver cluster."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys, threading
import wsgi_cassandra, wsgi_cassandra.warmers, wsgi_cassandra.testing
print(json.dumps({
    "threads": threading.active_count(),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("uwsgi", "uwsgidecorators", "gunicorn")),
    "driver_cluster": "cassandra.cluster" in sys.modules,
    "exports": sorted(wsgi_cassandra.__all__),
}))
"""


def test_import_starts_nothing() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    facts = json.loads(out.stdout)
    assert facts["threads"] == 1
    assert facts["modules"] == []
    assert facts["driver_cluster"] is False
    assert "CassandraMiddleware" in facts["exports"]


PLUGIN_PROBE = """
import json, sys
import wsgi_cassandra.testing.pytest_plugin
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("wsgi_cassandra.testing.", "asyncio", "cassandra")))))
"""


def test_the_pytest_plugin_loads_no_server_module_until_a_fixture_is_used() -> None:
    out = subprocess.run([sys.executable, "-c", PLUGIN_PROBE], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == ["wsgi_cassandra.testing.pytest_plugin"]
