"""The import structure import-linter does not check (docs/architecture.md, "Layers").

- No import inside a function: a function-level import is how a cycle hides from a reader
  and from the layer contracts. Only lazy imports of optional dependencies are allowed, each
  listed here with its reason.
- No cycle between any two modules of crmapi (import-linter checks layers and siblings; this
  checks every module, package ``__init__``s included).
"""

import ast
from pathlib import Path

import grimp

import crmapi

SRC = Path(crmapi.__file__).parent

# (module path under src/crmapi, imported module): why it is imported lazily.
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("http/ratelimit_store.py", "redis"): "optional (crmapi[redis]), only when configured",
}


def _function_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import):
                    found += [(inner.lineno, alias.name) for alias in inner.names]
                elif isinstance(inner, ast.ImportFrom):
                    found.append((inner.lineno, "." * inner.level + (inner.module or "")))
    return found


def test_no_import_inside_a_function() -> None:
    offending = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        for line, module in _function_imports(path):
            if (relative, module) not in LAZY_IMPORTS:
                offending.append(f"src/crmapi/{relative}:{line} imports {module}")
    assert offending == [], "imports inside functions (hoist them, or invert the dependency)"


def test_the_allow_list_is_current() -> None:
    present = {
        (path.relative_to(SRC).as_posix(), module)
        for path in SRC.rglob("*.py")
        for _line, module in _function_imports(path)
    }
    assert set(LAZY_IMPORTS) <= present, set(LAZY_IMPORTS) - present


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child)
                    work.append((child, iter(sorted(imported))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle_between_modules() -> None:
    graph = grimp.build_graph("crmapi", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.y", imported="a.z")
    assert _cycles(graph) == [["a.x", "a.y"]]
