"""The framework recipes in README.md ("Recipes", "ASGI"): each file under docs/recipes/ is a real app, wrapped
with CassandraMiddleware (or CassandraASGIMiddleware), read through the real driver; and the document shows
each file exactly as tested."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
    pytest.param("django_wsgi.py", "/items", lambda m: m.application, as_json, id="django"),
    pytest.param("pyramid_app.py", "/items", lambda m: m.application, as_json, id="pyramid"),
    pytest.param("falcon_app.py", "/items", lambda m: m.application, as_json, id="falcon"),
    pytest.param("webpy_app.py", "/items", lambda m: m.application, as_lines, id="web.py"),
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
        response = webob.Request.blank(path).get_response(module.app if filename == "flask_app.py" else middleware)
    finally:
        middleware.shutdown()

    assert response.status_int == 200, response.text
    assert read(response.text) == NAMES


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
