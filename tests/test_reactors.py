"""The connection class (event loop) each Cluster gets: the order, the errors, and Python 3.12 without libev."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from wsgi_cassandra import reactors
from wsgi_cassandra.exceptions import ConfigurationError

if TYPE_CHECKING:
    from tests.support.target import Target


def _without(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    """Make ``importlib.import_module`` fail for ``missing`` modules, as on a machine without them."""
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> Any:
        if name in missing:
            raise ImportError(f"No module named {name!r} (simulated)")
        return real(name, package)

    monkeypatch.setattr(reactors.importlib, "import_module", import_module)


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        pytest.param((), "LibevConnection", id="libev-first"),
        pytest.param(("cassandra.io.libevreactor",), "AsyncoreConnection", id="no-libev"),
        pytest.param(
            ("cassandra.io.libevreactor", "cassandra.io.asyncorereactor"),
            "AsyncioConnection",
            id="no-libev-no-asyncore",
        ),
    ],
)
def test_fallback_order(monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...], expected: str) -> None:
    pytest.importorskip("cassandra.io.libevwrapper", reason="needs the driver's libev extension to compare with")
    _without(monkeypatch, *missing)
    assert reactors.green_patched() is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Python 3.11's asyncore warns on import
        assert reactors.connection_class().__name__ == expected


def test_no_event_loop_at_all_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, *(module for module, _ in reactors.EVENT_LOOPS))
    with pytest.raises(ConfigurationError, match=r"no usable event loop.*reinstall cassandra-driver"):
        reactors.connection_class()


@pytest.mark.parametrize("green", ["gevent", "eventlet"])
def test_missing_green_reactor_names_the_fix(monkeypatch: pytest.MonkeyPatch, green: str) -> None:
    module, name = reactors.GREEN_REACTORS[green]
    real = importlib.util.find_spec
    monkeypatch.setattr(reactors.importlib.util, "find_spec", lambda n, *a: None if n == module else real(n, *a))
    with pytest.raises(ConfigurationError) as raised:
        reactors.green_connection_class(green)
    message = str(raised.value)
    assert f"monkey-patched by {green}" in message
    assert f"{module}.{name}" in message
    assert "cassandra-driver<3.31" in message
    assert "gthread" in message


def test_driver_version_names_the_distribution() -> None:
    assert reactors.driver_version().split()[0] in ("cassandra-driver", "scylla-driver")


# Blocks the driver's libev extension and asyncore, as on Python 3.12+ with a driver built without libev.
_NO_LIBEV_NO_ASYNCORE = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name in ("asyncore", "cassandra.io.libevwrapper"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


@pytest.mark.integration
def test_python312_without_libev_driver_default_fails(cassandra: Target) -> None:
    """The problem: the driver alone cannot even be imported there."""
    script = _NO_LIBEV_NO_ASYNCORE + "import cassandra.cluster\n"
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        pytest.skip(f"needs a driver that has no asyncio fallback of its own ({reactors.driver_version()} has one)")
    assert "Unable to load a default connection class" in result.stderr


@pytest.mark.integration
def test_python312_without_libev_reads_rows_with_asyncio(cassandra: Target, keyspace: str) -> None:
    """The fix: our Cluster loads the driver and connects with the asyncio reactor, and reads rows."""
    env = cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace)
    script = _NO_LIBEV_NO_ASYNCORE + textwrap.dedent(
        """
        import json
        from wsgi_cassandra.config import Settings
        from wsgi_cassandra.driver import cluster_factory

        settings = Settings.resolve({})
        cluster = cluster_factory(settings)()
        session = cluster.connect(settings.keyspace)
        rows = sorted([row.id, row.name] for row in session.execute("SELECT id, name FROM items"))
        import cassandra.cluster
        print(json.dumps({
            "class": cluster.connection_class.__name__,
            "default": cassandra.cluster.DefaultConnection.__name__,
            "rows": rows,
        }))
        cluster.shutdown()
        """
    )
    from tests.support.servers import server_env

    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60, env=server_env(env)
    )
    assert result.returncode == 0, result.stderr
    import json

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {
        "class": "AsyncioConnection",
        "default": "AsyncioConnection",
        "rows": [[0, "item-0"], [1, "item-1"], [2, "item-2"]],
    }
    if cassandra.server is not None:
        cassandra.server.stats.wait_for("connections_open", 0, timeout=5)


def test_eventlet_with_an_old_driver_needs_futurist(monkeypatch: pytest.MonkeyPatch) -> None:
    """cassandra-driver 3.25-3.29 raise ImportError deep in ``Cluster()`` under eventlet without futurist."""
    import types

    if importlib.util.find_spec("cassandra.io.eventletreactor") is None:
        pytest.skip(f"needs a driver with an eventlet reactor; {reactors.driver_version()} has none")

    class OldCluster:
        def _create_thread_pool_executor(self, **kwargs: Any) -> None: ...

    real = importlib.util.find_spec
    monkeypatch.setattr(reactors.importlib.util, "find_spec", lambda n, *a: None if n == "futurist" else real(n, *a))
    monkeypatch.setattr(reactors, "import_cluster_module", lambda: types.SimpleNamespace(Cluster=OldCluster))
    with pytest.raises(ConfigurationError, match=r"futurist.*pip install futurist"):
        reactors.green_connection_class("eventlet")
