"""The shape of the package: no import cycles in src/wsgi_cassandra, and loggers named after their module.

Imports are read with ``ast`` (nothing is imported): every ``import``/``from ... import`` of one of our
modules, at module level or inside a function, except those under ``if TYPE_CHECKING:`` (never run).
A function-level import counts too: it only postpones a cycle to the first call.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

import wsgi_cassandra

if TYPE_CHECKING:
    import pytest

ROOT = Path(wsgi_cassandra.__file__).resolve().parent


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str) -> set[str]:
    """The modules of this package that ``name`` imports when run (any depth of nesting)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    for _ in range(100_000):
        if not todo:
            break
        node = todo.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in MODULES else target)
        todo.extend(ast.iter_child_nodes(node))
    return (found & MODULES.keys()) - {name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or ``None`` (depth-first search, iterative)."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if step in on_path:
                return [*path[path.index(step) :], step]
            if step not in done:
                path.append(step)
                on_path.add(step)
                stack.append(iter(sorted(graph[step])))
    return None


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name) for name in MODULES}
    assert len(graph) > 20  # the walk found the package
    assert "wsgi_cassandra.holder" in graph["wsgi_cassandra.middleware"]  # and reads relative imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_loggers_are_named_after_their_module() -> None:
    """A module's logger (``log = logging.getLogger(...)`` at module level) is ``getLogger(__name__)``:
    operators filter on the module that logs (the CQL test server's included)."""
    wrong = []
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            call = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr == "getLogger"
                and not (call.args and isinstance(call.args[0], ast.Name) and call.args[0].id == "__name__")
            ):
                wrong.append(f"{name}:{node.lineno}")
    assert wrong == []


TESTING = "wsgi_cassandra.testing"
# The test server's three parts: the codec, the runtime that serves it, and the CQL engine.
PROTOCOL, SERVER, ENGINE = f"{TESTING}.protocol", f"{TESTING}.server", f"{TESTING}.cql"


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_engine_imports_neither_the_protocol_nor_the_runtime() -> None:
    """The CQL engine raises its own errors and returns its own values; the runtime translates them."""
    engine = [name for name in MODULES if _inside(name, ENGINE)]
    assert len(engine) > 20
    wrong = {name: sorted(i for i in imports_of(name) if _inside(i, PROTOCOL) or _inside(i, SERVER)) for name in engine}
    assert {name: found for name, found in wrong.items() if found} == {}


def test_the_codec_imports_neither_the_engine_nor_the_runtime() -> None:
    codec = [name for name in MODULES if _inside(name, PROTOCOL)]
    wrong = {name: sorted(i for i in imports_of(name) if _inside(i, ENGINE) or _inside(i, SERVER)) for name in codec}
    assert {name: found for name, found in wrong.items() if found} == {}


def _owner(private: str) -> str:
    """The package a private module (or name) belongs to: inside the test server's protocol, server and cql
    packages, that whole package (their subpackages share their private modules); elsewhere, its parent."""
    for package in (PROTOCOL, SERVER, ENGINE):
        if _inside(private, package):
            return package
    return private.rpartition(".")[0]


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def private_uses(name: str) -> list[str]:
    """Private names of other modules that ``name`` uses: ``from m import _x`` (unless ``_x`` is a private
    module of a package ``name`` is part of), ``import``-ed private modules from outside their package,
    ``m._x`` on an imported module ``m``; and, in the test server, ``obj._x`` on anything but ``self``/``cls``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    module_aliases: set[str] = set()

    def check_module(target: str, line: int) -> None:
        parts = target.split(".")
        for i, part in enumerate(parts):
            if _is_private(part):
                owner = _owner(".".join(parts[: i + 1]))
                if not _inside(name, owner):
                    found.append(f"{name}:{line}: {target}")
                return

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("wsgi_cassandra"):
                continue
            check_module(target, node.lineno)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in MODULES:
                    check_module(full, node.lineno)
                    module_aliases.add(alias.asname or alias.name)
                elif _is_private(alias.name):
                    found.append(f"{name}:{node.lineno}: from {target} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    check_module(alias.name, node.lineno)
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            value = node.value
            if isinstance(value, ast.Name) and value.id in module_aliases:
                found.append(f"{name}:{node.lineno}: {value.id}.{node.attr}")
            elif _inside(name, TESTING) and not (isinstance(value, ast.Name) and value.id in ("self", "cls")):
                found.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_private_names_used_across_modules() -> None:
    assert [use for name in sorted(MODULES) for use in private_uses(name)] == []


def test_the_private_name_check_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "from .protocol import _wire\nfrom .server._node import _bind\nx = obj._secret\n"
    (tmp_path / "example.py").write_text(source, encoding="utf-8")
    monkeypatch.setitem(MODULES, f"{TESTING}.example", tmp_path / "example.py")
    found = private_uses(f"{TESTING}.example")
    assert [use.split(": ", 1)[1] for use in found] == [
        f"{PROTOCOL}._wire",
        f"{SERVER}._node",
        f"from {SERVER}._node import _bind",
        "obj._secret",
    ]


def test_module_names_do_not_repeat() -> None:
    """One name, one module: ``x.py`` and ``_x.py`` in two places of the package would be two things called x."""
    seen: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.stem.lstrip("_"), []).append(name)
    assert {short: names for short, names in seen.items() if len(names) > 1} == {}
