"""Warmer selection and the server-specific warmers, with narrow fakes of the *server* environment.

What the driver does is never faked for a claim about connecting: the fork warmer is checked with a real
``multiprocessing`` fork against the test server. The uWSGI and Gunicorn warmers are also driven by real
servers in ``test_uwsgi.py`` and ``test_gunicorn.py``; here their decisions are checked one by one.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import sys
import time
import types
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.wait import eventually, stays
from wsgi_cassandra import CassandraMiddleware, ConfigurationError, SessionHolder, WarmerUnavailable
from wsgi_cassandra import gunicorn as hooks
from wsgi_cassandra.connect import Connected
from wsgi_cassandra.warmers import get_warmer
from wsgi_cassandra.warmers import uwsgi as uwsgi_warmer
from wsgi_cassandra.warmers.auto import AutoWarmer
from wsgi_cassandra.warmers.gunicorn_warmer import GunicornWarmer, find_gunicorn

if TYPE_CHECKING:
    from tests.support.target import Target


def app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


class FakeCluster:
    """Stands in for a driver Cluster where only the holder's bookkeeping is under test."""

    def register_listener(self, listener: object) -> None:
        pass

    def shutdown(self) -> None:
        self.closed = True


def fake_holder(calls: list[int] | None = None) -> SessionHolder:
    def connector(pid: int) -> Connected:
        if calls is not None:
            calls.append(pid)
        return Connected(cluster=FakeCluster(), session=object(), pid=pid)  # type: ignore[arg-type]

    return SessionHolder(connector, warm_timeout=2, shutdown_timeout=1)


# --- names and auto-selection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("uwsgi", "only works inside a uWSGI server", id="uwsgi"),
        pytest.param("gunicorn", "only works while a Gunicorn arbiter or worker loads the app", id="gunicorn"),
    ],
)
def test_named_warmer_that_cannot_work_here_raises(name: str, message: str) -> None:
    with pytest.raises(WarmerUnavailable, match=message) as caught:
        get_warmer(name).install(fake_holder())
    assert isinstance(caught.value, ConfigurationError)


def test_named_warmer_fails_while_the_middleware_is_built() -> None:
    with pytest.raises(WarmerUnavailable, match="uWSGI"):
        CassandraMiddleware(app, warmer="uwsgi", environ={})


def test_auto_outside_any_server_chooses_fork_and_lazy() -> None:
    calls: list[int] = []
    warmer = AutoWarmer()
    warmer.install(fake_holder(calls))
    assert warmer.chosen == ["fork", "lazy"]
    assert calls == [], "nothing connects in a process that may fork"


def test_auto_is_the_default() -> None:
    middleware = CassandraMiddleware(app, environ={})
    assert middleware.warmer.name == "auto"
    assert middleware.warmer.chosen == ["fork", "lazy"]  # type: ignore[attr-defined]


# --- uWSGI, with a fake ``uwsgi`` module (the real one exists only inside uWSGI) ------------------------


class FakeUWSGI(types.ModuleType):
    def __init__(self, *, master: int = 100, worker: int = 0, mule: int = 0, has_threads: int = 1) -> None:
        super().__init__("uwsgi")
        self.master, self.worker, self.mule, self.has_threads = master, worker, mule, has_threads
        self.opt: dict[str, Any] = {}

    def masterpid(self) -> int:
        return self.master

    def worker_id(self) -> int:
        return self.worker

    def mule_id(self) -> int:
        return self.mule

    def i_am_the_spooler(self) -> bool:
        return False


@pytest.fixture
def fake_uwsgi(monkeypatch: pytest.MonkeyPatch) -> FakeUWSGI:
    module = FakeUWSGI()
    monkeypatch.setitem(sys.modules, "uwsgi", module)
    monkeypatch.delitem(sys.modules, "uwsgidecorators", raising=False)
    monkeypatch.setattr(uwsgi_warmer, "_hooked_pid", None)
    monkeypatch.setattr(uwsgi_warmer, "_installed", type(uwsgi_warmer._installed)())
    return module


def test_uwsgi_registers_through_uwsgidecorators_and_keeps_an_existing_hook(fake_uwsgi: FakeUWSGI) -> None:
    theirs: list[str] = []
    fake_uwsgi.post_fork_hook = lambda: theirs.append("theirs")  # type: ignore[attr-defined]
    calls: list[int] = []
    warmer = AutoWarmer()
    holder = fake_holder(calls)  # the middleware keeps its holder alive; warmers only hold weak references
    warmer.install(holder)
    assert warmer.chosen == ["uwsgi", "lazy"]
    assert calls == [], "the master does not connect"
    import uwsgidecorators  # the real module, imported against the fake uwsgi

    assert fake_uwsgi.post_fork_hook is uwsgidecorators.postfork_chain_hook  # type: ignore[attr-defined]
    fake_uwsgi.worker = 1
    fake_uwsgi.post_fork_hook()  # type: ignore[attr-defined]  # what uWSGI does in each new worker
    assert theirs == ["theirs"]
    assert calls == [os.getpid()]


def test_uwsgi_without_master_chains_post_fork_hook(fake_uwsgi: FakeUWSGI) -> None:
    fake_uwsgi.master = 0
    theirs: list[str] = []
    fake_uwsgi.post_fork_hook = lambda: theirs.append("theirs")  # type: ignore[attr-defined]
    calls: list[int] = []
    holder = fake_holder(calls)
    get_warmer("uwsgi").install(holder)
    assert "uwsgidecorators" not in sys.modules
    fake_uwsgi.worker = 1
    fake_uwsgi.post_fork_hook()  # type: ignore[attr-defined]
    assert theirs == ["theirs"]
    assert calls == [os.getpid()]


def test_uwsgi_lazy_apps_warms_at_install(fake_uwsgi: FakeUWSGI) -> None:
    fake_uwsgi.worker = 2  # the app is being loaded in worker 2, after the fork
    calls: list[int] = []
    get_warmer("uwsgi").install(fake_holder(calls))
    assert calls == [os.getpid()]
    assert "uwsgidecorators" not in sys.modules


@pytest.mark.parametrize(
    ("mules", "warmed"),
    [pytest.param(False, [], id="skipped"), pytest.param(True, [os.getpid()], id="asked-for")],
)
def test_uwsgi_mules_are_skipped_unless_asked(fake_uwsgi: FakeUWSGI, mules: bool, warmed: list[int]) -> None:
    calls: list[int] = []
    holder = fake_holder(calls)
    uwsgi_warmer.UWSGIWarmer(mules=mules).install(holder)
    fake_uwsgi.mule = 1
    uwsgi_warmer._after_fork()
    assert calls == warmed


@pytest.mark.parametrize("name", ["uwsgi", "auto"])
def test_uwsgi_threads_disabled_is_a_clear_error(fake_uwsgi: FakeUWSGI, name: str) -> None:
    fake_uwsgi.has_threads = 0
    with pytest.raises(ConfigurationError, match="--enable-threads") as caught:
        get_warmer(name).install(fake_holder())
    assert not isinstance(caught.value, WarmerUnavailable), "auto must not silently skip it"


@pytest.mark.parametrize(
    ("has_threads", "plan"),
    [pytest.param(1, ["uwsgi", "lazy"], id="threads-on"), pytest.param(0, None, id="threads-off")],
)
def test_auto_plan_and_install_agree_inside_uwsgi(fake_uwsgi: FakeUWSGI, has_threads: int, plan: Any) -> None:
    """What ``check`` prints (``plan()``) is what ``install()`` does: both decided by ``choose()``."""
    from wsgi_cassandra.check import EXIT_CONFIG, run_check

    fake_uwsgi.has_threads = has_threads
    warmer = AutoWarmer()
    if plan is None:
        with pytest.raises(ConfigurationError, match="--enable-threads"):
            warmer.plan()
        with pytest.raises(ConfigurationError, match="--enable-threads"):
            warmer.install(fake_holder())
        err = io.StringIO()
        assert run_check({"CASSANDRA_CONTACT_POINTS": "127.0.0.1"}, out=io.StringIO(), err=err) == EXIT_CONFIG
        assert "--enable-threads" in err.getvalue()
        return
    assert warmer.plan() == plan
    holder = fake_holder()
    warmer.install(holder)
    assert warmer.chosen == plan


def test_uwsgi_atexit_is_chained_and_shuts_down(fake_uwsgi: FakeUWSGI) -> None:
    theirs: list[str] = []
    fake_uwsgi.atexit = lambda: theirs.append("theirs")  # type: ignore[attr-defined]
    holder = fake_holder()
    fake_uwsgi.worker = 1
    get_warmer("uwsgi").install(holder)
    assert holder.current() is not None
    fake_uwsgi.atexit()  # type: ignore[attr-defined]
    assert theirs == ["theirs"]
    assert holder.current() is None


# --- Gunicorn --------------------------------------------------------------------------------------------


def test_hooks_module_exposes_exactly_three_gunicorn_settings() -> None:
    """``-c python:wsgi_cassandra.gunicorn`` reads every module attribute named like a setting."""
    from gunicorn.config import Config

    settings = set(Config().settings)
    assert {name for name in vars(hooks) if name in settings} == {"post_fork", "post_worker_init", "worker_exit"}


def test_chain_composes_after_the_users_hook_and_gunicorn_accepts_it() -> None:
    from gunicorn.config import Config

    order: list[str] = []

    def post_fork(server: Any, worker: Any) -> None:
        order.append("theirs")

    chained = hooks.chain(post_fork=post_fork)
    assert chained["post_worker_init"] is hooks.post_worker_init
    cfg = Config()
    for name, hook in chained.items():
        cfg.set(name, hook)  # Gunicorn validates each hook's arity
    cfg.post_fork(None, types.SimpleNamespace(pid=os.getpid()))
    assert order == ["theirs"]
    assert hooks.is_ours(cfg.post_fork)
    assert hooks.chain(post_fork=chained["post_fork"])["post_fork"] is chained["post_fork"]
    with pytest.raises(TypeError, match="on_starting"):
        hooks.chain(on_starting=post_fork)


def test_compose_runs_every_hook_and_reraises_the_first_error() -> None:
    ran: list[str] = []

    def bad(worker: Any) -> None:
        ran.append("bad")
        raise RuntimeError("user hook failed")

    def good(worker: Any) -> None:
        ran.append("good")

    with pytest.raises(RuntimeError, match="user hook failed"):
        hooks.compose(bad, good)(None)
    assert ran == ["bad", "good"]


def test_hooks_never_raise(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An exception in a Gunicorn boot hook halts the whole server: ours log it instead, and return."""
    called: list[str] = []

    class Broken:
        warm_timeout = 1.0

        def start(self) -> None:
            called.append("start")
            raise RuntimeError("boom")

        def warm(self, timeout: float | None = None) -> bool:
            called.append("warm")
            raise RuntimeError("boom")

        def shutdown(self, timeout: float | None = None) -> bool:
            called.append("shutdown")
            raise RuntimeError("boom")

    monkeypatch.setattr(hooks, "all_holders", lambda: [Broken()])
    worker = types.SimpleNamespace(pid=os.getpid())
    caplog.set_level(logging.ERROR, logger="wsgi_cassandra")
    assert hooks.post_fork(None, worker) is None  # type: ignore[func-returns-value]
    assert hooks.post_worker_init(worker) is None  # type: ignore[func-returns-value]
    assert hooks.worker_exit(None, worker) is None  # type: ignore[func-returns-value]

    assert called == ["start", "warm", "shutdown"]  # each hook did reach the holder...
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 3  # ...and logged its failure, with the traceback, instead of raising
    assert all(record.exc_info and str(record.exc_info[1]) == "boom" for record in errors)


def test_post_worker_init_is_bounded_when_cassandra_is_down() -> None:
    def refused(pid: int) -> Connected:
        raise ConnectionRefusedError("down")

    holder = SessionHolder(refused, warm_timeout=1)
    started = time.monotonic()
    hooks.post_worker_init(types.SimpleNamespace(pid=os.getpid()))
    assert time.monotonic() - started < 3
    assert holder.current() is None
    holder.shutdown()


def _install_from(owner: Any, warmer: GunicornWarmer, holder: SessionHolder) -> None:
    """Run ``install`` with ``owner`` as ``self`` up the stack, as when Gunicorn loads the app."""
    owner.install_app = types.MethodType(lambda self: warmer.install(holder), owner)
    owner.install_app()


def test_gunicorn_worker_without_hooks_warms_at_install() -> None:
    from gunicorn.config import Config
    from gunicorn.workers.sync import SyncWorker

    worker = SyncWorker.__new__(SyncWorker)
    worker.cfg = Config()
    calls: list[int] = []
    warmer = GunicornWarmer()
    _install_from(worker, warmer, fake_holder(calls))
    assert warmer.mode == "worker"
    assert calls == [os.getpid()]
    assert hooks.is_ours(worker.cfg.worker_exit)


def test_gunicorn_preload_chains_hooks_on_the_arbiter_without_replacing() -> None:
    from gunicorn.arbiter import Arbiter
    from gunicorn.config import Config

    def post_fork(server: Any, worker: Any) -> None:
        pass

    arbiter = Arbiter.__new__(Arbiter)
    arbiter.cfg = Config()
    arbiter.cfg.set("post_fork", post_fork)
    calls: list[int] = []
    warmer = GunicornWarmer()
    _install_from(arbiter, warmer, fake_holder(calls))
    assert warmer.mode == "arbiter"
    assert calls == [], "the arbiter never connects"
    for name in ("post_fork", "post_worker_init", "worker_exit"):
        assert hooks.is_ours(arbiter.cfg.settings[name].get())
    assert arbiter.cfg.post_fork.__name__ == "post_fork"
    _install_from(arbiter, GunicornWarmer(), fake_holder())  # a second middleware: nothing added twice
    assert arbiter.cfg.post_fork is arbiter.cfg.settings["post_fork"].get()


def test_gunicorn_gevent_with_the_driver_imported_first_is_accepted() -> None:
    """The connection class is chosen when each worker builds its Cluster, not at the driver's import."""
    import importlib.util

    if importlib.util.find_spec("cassandra.io.geventreactor") is None:
        pytest.skip("needs a driver with a gevent reactor (cassandra-driver < 3.31); refused otherwise (next test)")
    import cassandra.cluster  # imported before monkey-patching: the driver chose libev/asyncore
    from gunicorn.arbiter import Arbiter
    from gunicorn.config import Config

    assert cassandra.cluster.DefaultConnection.__name__ != "GeventConnection"
    arbiter = Arbiter.__new__(Arbiter)
    arbiter.cfg = Config()
    arbiter.cfg.set("worker_class", "gevent")
    warmer = GunicornWarmer()
    _install_from(arbiter, warmer, fake_holder())
    assert warmer.mode == "arbiter"


def test_gunicorn_gevent_without_the_driver_reactor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """cassandra-driver 3.31 removed its gevent reactor: refuse at construction, naming the fix."""
    import importlib.util

    from gunicorn.arbiter import Arbiter
    from gunicorn.config import Config

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "cassandra.io.geventreactor" else real_find_spec(name, *a),
    )
    arbiter = Arbiter.__new__(Arbiter)
    arbiter.cfg = Config()
    arbiter.cfg.set("worker_class", "gevent")
    with pytest.raises(ConfigurationError, match=r"GeventConnection.*cassandra-driver<3\.31.*gthread"):
        _install_from(arbiter, GunicornWarmer(), fake_holder())


def test_find_gunicorn_outside_gunicorn() -> None:
    assert find_gunicorn() is None


# --- fork: a real multiprocessing child against the test server -----------------------------------------


def _child(application: CassandraMiddleware, queue: Any) -> None:
    # No request: the fork hook alone must get the session ready.
    eventually(lambda: application.holder.state.connected is not None, timeout=10, step=0.01)
    connected = application.holder.current()
    rows = [] if connected is None else sorted([r.id, r.name] for r in connected.session.execute("SELECT * FROM items"))
    queue.put((os.getpid(), None if connected is None else connected.pid, rows))
    application.shutdown()


@pytest.mark.integration
@pytest.mark.timeout(30)
def test_fork_warmer_connects_in_a_multiprocessing_child(cassandra: Target, keyspace: str) -> None:
    from tests.support.servers import handshakes_per_session

    per_session = handshakes_per_session(cassandra, keyspace)
    stats = cassandra.embedded.stats
    application = CassandraMiddleware(app, keyspace=keyspace, warmer="fork", **cassandra.middleware_kwargs())
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(application, queue))
    child.start()
    try:
        pid, built_pid, rows = queue.get(timeout=15)
    finally:
        child.join(10)
    assert pid == child.pid
    assert built_pid == child.pid
    assert rows == [[0, "item-0"], [1, "item-1"], [2, "item-2"]]
    assert stats.startups == per_session
    assert application.holder.current() is None, "the parent never connected"
    stats.wait_for("connections_open", 0, timeout=5)


def test_fork_warmer_leaves_a_holder_that_was_shut_down_alone(cassandra: Target, keyspace: str) -> None:
    """An app object the parent closed must not come back to life in a forked child and retry in the background."""
    stats = cassandra.embedded.stats
    closed = CassandraMiddleware(app, keyspace=keyspace, warmer="fork", **cassandra.middleware_kwargs())
    closed.shutdown()
    live = CassandraMiddleware(app, keyspace=keyspace, warmer="fork", **cassandra.middleware_kwargs())
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    before = stats.startups
    child = context.Process(target=_child_reports_threads, args=(closed, live, queue))
    child.start()
    try:
        closed_started, live_ready = queue.get(timeout=15)
    finally:
        child.join(10)
    assert closed_started is False
    assert live_ready is True
    assert stats.startups > before  # the live one did connect in the child
    stats.wait_for("connections_open", 0, timeout=5)


def _child_reports_threads(closed: CassandraMiddleware, live: CassandraMiddleware, queue: Any) -> None:
    ready = live.holder.get(timeout=10) is not None
    queue.put((closed.holder.state.thread is not None and closed.holder.state.pid == os.getpid(), ready))
    live.shutdown()


def test_gunicorn_hooks_leave_a_holder_that_was_shut_down_alone() -> None:
    attempts: list[int] = []

    def refused(pid: int) -> Connected:
        attempts.append(pid)
        raise ConnectionRefusedError("down")

    closed = SessionHolder(refused, warm_timeout=1)
    closed.shutdown()
    hooks.post_fork(None, types.SimpleNamespace(pid=os.getpid()))
    hooks.post_worker_init(types.SimpleNamespace(pid=os.getpid()))
    assert closed.state.thread is None  # no connect thread was started...
    assert stays(lambda: attempts == [], seconds=0.2)  # ...so no attempt is ever made
