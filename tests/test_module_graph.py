"""The shape of the package: no import cycles in src/wsgi_cassandra, and loggers named after their module.

Imports are read with ``ast`` (nothing is imported): every ``import``/``from ... import`` of one of our
modules, at module level or inside a function, except those under ``if TYPE_CHECKING:`` (never run).
A function-level import counts too: it only postpones a cycle to the first call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wsgi_cassandra

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
