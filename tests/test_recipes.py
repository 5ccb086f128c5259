"""The framework recipes in README.md ("Recipes", "ASGI"): each file under docs/recipes/ is a real app, wrapped
with CassandraMiddleware (or CassandraASGIMiddleware), read through the real driver; and the document shows
each file exactly as tested."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.clients import free_port
from wsgi_cassandra import CassandraMiddleware

with warnings.catch_warnings():  # WebOb 1.8 imports the cgi module, deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from tests.support.target import Target

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"
README = RECIPES.parent.parent / "README.md"
NAMES = ["item-0", "item-1", "item-2"]  # the rows the keyspace fixture inserts


def as_json(body: str) -> list[str]:
    return sorted(json.loads(body)["items"])


def as_lines(body: str) -> list[str]:
    return sorted(body.splitlines())


# recipe file, URL path, how to find the middleware in the module, how to read the page
CASES = [
    pytest.param("bare_wsgi.py", "/", lambda m: m.application, as_lines, id="bare-wsgi"),
    pytest.param("flask_app.py", "/items", lambda m: m.app.wsgi_app, as_json, id="flask"),
    pytest.param("flask_cqlengine.py", "/items", lambda m: m.app.wsgi_app, as_json, id="flask-cqlengine"),
    pytest.param("django_wsgi.py", "/items", lambda m: m.application, as_json, id="django"),
    pytest.param("pyramid_app.py", "/items", lambda m: m.application, as_json, id="pyramid"),
    pytest.param("falcon_app.py", "/items", lambda m: m.application, as_json, id="falcon"),
    pytest.param("webpy_app.py", "/items", lambda m: m.application, as_lines, id="web.py"),
    pytest.param("webob_app.py", "/", lambda m: m.application, as_lines, id="webob"),
]


@pytest.fixture
def recipe_environment(cassandra: Target, keyspace: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a deployment sets: the CASSANDRA_* variables (the recipes pass no arguments) and the recipe
    folder on sys.path (for Django's settings and URLconf modules)."""
    for name, value in cassandra.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CASSANDRA_KEYSPACE", keyspace)
    monkeypatch.setenv("WSGI_CASSANDRA_WARMER", "lazy")  # nothing forks here: connect on the first request
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "django_settings")  # what the recipe's setdefault would set
    monkeypatch.syspath_prepend(str(RECIPES))


def load(filename: str) -> ModuleType:
    """Import a recipe file as a fresh module, as the server would import the user's module."""
    name = f"recipe_{Path(filename).stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, RECIPES / filename)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with warnings.catch_warnings():  # Pyramid imports WebOb (see above)
            warnings.simplefilter("ignore", DeprecationWarning)
            spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.integration
@pytest.mark.usefixtures("recipe_environment")
@pytest.mark.parametrize(("filename", "path", "middleware_of", "read"), CASES)
def test_recipe_reads_rows_through_the_middleware(
    filename: str, path: str, middleware_of: Callable[[Any], Any], read: Callable[[str], list[str]]
) -> None:
    module = load(filename)
    middleware = middleware_of(module)
    assert isinstance(middleware, CassandraMiddleware)
    try:
        response = webob.Request.blank(path).get_response(module.app if filename.startswith("flask") else middleware)
    finally:
        middleware.shutdown()

    assert response.status_int == 200, response.text
    assert read(response.text) == NAMES


@pytest.mark.integration
@pytest.mark.usefixtures("recipe_environment")
def test_cqlengine_recipe_gets_one_model_by_key() -> None:
    module = load("flask_cqlengine.py")
    try:
        response = webob.Request.blank("/items/1").get_response(module.app)
        missing = webob.Request.blank("/items/99").get_response(module.app)
    finally:
        module.app.wsgi_app.shutdown()

    assert response.status_int == 200, response.text
    assert json.loads(response.text) == {"name": "item-1"}
    assert missing.status_int == 404, missing.text


@pytest.mark.integration
@pytest.mark.usefixtures("recipe_environment")
@pytest.mark.parametrize("filename", ["starlette_app.py", "fastapi_app.py"], ids=["starlette", "fastapi"])
def test_asgi_recipe_reads_rows_through_the_middleware(filename: str) -> None:
    """An ASGI recipe as a server runs it: lifespan start-up (the warm-up), a request, shutdown (closed)."""
    from tests.support.asgi import serve_once

    status, _, body = serve_once(load(filename).app, "/items")

    assert status == 200, body
    assert as_json(body.decode()) == NAMES


@pytest.mark.parametrize(
    "filename", sorted(p.name for p in RECIPES.glob("*.py")), ids=lambda name: name.removesuffix(".py")
)
def test_the_document_shows_the_tested_file_verbatim(filename: str) -> None:
    source = (RECIPES / filename).read_text()

    assert f"```python\n{source}```\n" in README.read_text(), f"README.md must include docs/recipes/{filename}"


# --- outages: one log line per request, and the middleware's 503 -----------------------------------------


@pytest.fixture
def outage_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment whose Cassandra is down: nothing listens on its port (connections are refused)."""
    monkeypatch.setenv("CASSANDRA_CONTACT_POINTS", "127.0.0.1")
    monkeypatch.setenv("CASSANDRA_PORT", str(free_port()))
    monkeypatch.setenv("CASSANDRA_KEYSPACE", "shop")
    monkeypatch.setenv("WSGI_CASSANDRA_WARMER", "lazy")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "django_settings")
    monkeypatch.syspath_prepend(str(RECIPES))


# recipe file, how to find the WSGI app to call and the middleware, which logger the framework logs errors on
OUTAGE_CASES = [
    pytest.param("flask_outage.py", lambda m: m.app, lambda m: m.app.wsgi_app, lambda m: m.app.logger.name, id="flask"),
    pytest.param(
        "django_wsgi.py", lambda m: m.application, lambda m: m.application, lambda m: "django.request", id="django"
    ),
]


def framework_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the app and its framework logged (not the library's or the driver's per-attempt lines)."""
    return [r for r in caplog.records if not r.name.startswith(("wsgi_cassandra", "cassandra"))]


@pytest.mark.integration
@pytest.mark.usefixtures("outage_environment")
@pytest.mark.parametrize(("filename", "app_of", "middleware_of", "logger_of"), OUTAGE_CASES)
def test_outage_recipe_logs_one_line_per_request_and_the_middleware_answers_503(
    filename: str,
    app_of: Callable[[Any], Any],
    middleware_of: Callable[[Any], Any],
    logger_of: Callable[[Any], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    module = load(filename)
    middleware = middleware_of(module)
    assert isinstance(middleware, CassandraMiddleware)
    try:
        responses = [webob.Request.blank("/items").get_response(app_of(module)) for _ in range(3)]
    finally:
        middleware.shutdown()

    for response in responses:  # the middleware's 503 replaced the app's own error response
        assert response.status_int == 503
        assert int(response.headers["Retry-After"]) >= 1
        assert "connection refused" in response.text
        assert "Cassandra unavailable" not in response.text
    records = framework_records(caplog)
    assert [r.name for r in records] == [logger_of(module)] * 3, records  # one line per request...
    assert all(r.exc_info is None for r in records)  # ...and no traceback


@pytest.mark.integration
@pytest.mark.usefixtures("outage_environment")
def test_without_an_error_handler_flask_logs_a_traceback_per_request(caplog: pytest.LogCaptureFixture) -> None:
    """Why the outage recipe exists: the plain Flask recipe still gets the 503, but Flask logs a traceback."""
    caplog.set_level(logging.INFO)
    module = load("flask_app.py")
    try:
        responses = [webob.Request.blank("/items").get_response(module.app) for _ in range(2)]
    finally:
        module.app.wsgi_app.shutdown()

    assert [response.status_int for response in responses] == [503, 503]
    tracebacks = [r for r in framework_records(caplog) if r.exc_info is not None]
    assert len(tracebacks) == 2
    assert all(type(r.exc_info[1]).__name__ == "SessionUnavailable" for r in tracebacks if r.exc_info)


@pytest.mark.integration
@pytest.mark.usefixtures("outage_environment")
def test_with_on_unavailable_app_the_apps_handler_decides_the_response() -> None:
    from flask import Flask

    module = load("flask_outage.py")
    module.app.wsgi_app.shutdown()  # the recipe's middleware, replaced below before any request
    module.app.wsgi_app = CassandraMiddleware(Flask.wsgi_app.__get__(module.app), on_unavailable="app")
    try:
        response = webob.Request.blank("/items").get_response(module.app)
    finally:
        module.app.wsgi_app.shutdown()

    assert response.status_int == 503
    assert response.text == "Cassandra unavailable"  # the handler's response, not the middleware's
