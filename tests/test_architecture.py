"""The shape of the package, checked: no import cycle inside matcher/, no private name used
outside the module that defines it, and the front ends stay thin."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "matcher"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Nodes under `if TYPE_CHECKING:` (annotations only, never imported at run time)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    return skip


def _imports(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """matcher modules that `name` imports anywhere (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)  # (an importer's own package is being imported already: no edge)
                # importing a.b.c runs a.b's __init__ too (except the importer's own packages,
                # which are being imported already, and the root package)
                parent = target.rpartition(".")[0]
                while parent and parent != "matcher":
                    if parent != name and not name.startswith(parent + "."):
                        out.add(parent)
                    parent = parent.rpartition(".")[0]
    return out - {"matcher"}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_inside_the_package():
    modules = _modules()
    graph = {name: _imports(name, path, tree, set(modules)) for name, (path, tree) in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _private_uses(name: str, tree: ast.Module, defined: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("", "matcher") \
                or isinstance(node, ast.ImportFrom) and node.level:
            found += [f"{name}: imports {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if node.attr in defined:  # the module's own private name (e.g. another instance's field)
                continue
            found.append(f"{name}: uses .{node.attr} (line {node.lineno})")
    return found


def _defined_private_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {n for n in names if n.startswith("_")}


def test_no_private_name_is_used_outside_its_module():
    problems = []
    for name, (_path, tree) in _modules().items():
        problems += _private_uses(name, tree, _defined_private_names(tree))
    assert problems == []


def test_the_private_name_check_catches_a_reach_in():
    tree = ast.parse("from .twins import _weight_vector\nx = rec._mentor_term(1)\ny = self._ok\n")
    assert len(_private_uses("m", tree, set())) == 2


@pytest.mark.parametrize("front_end", ["app_streamlit.py", "app_workspace.py", "matcher/cli.py"])
def test_front_ends_do_no_scoring_or_file_parsing(front_end):
    """The app and the CLI parse input, call the library and render: no numpy maths, no file
    readers, no index or solver calls of their own."""
    source = (REPO / front_end).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    assert not imported & {"numpy", "faiss", "ortools", "sklearn", "csv", "io", "yaml", "openpyxl", "pyarrow"}
    for banned in ("read_csv", "read_parquet", "read_excel", "index.search(", "similarity_matrix", "csv.writer"):
        assert banned not in source, f"{front_end} does {banned} itself"


LONG_FUNCTION_MODULES = ["twins.py", "case_studies.py", "cohorts.py", "reviewers.py"]
MAX_FUNCTION_LINES = 60


def _long_functions(tree: ast.Module, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions longer than `limit` lines whose docstring does not say why (a solver model
    builder that reads best whole says "solver model")."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > limit and "solver model" not in (ast.get_docstring(node) or ""):
                found.append(f"{node.name} (line {node.lineno}): {length} lines")
    return found


@pytest.mark.parametrize("module", LONG_FUNCTION_MODULES)
def test_no_long_function_without_a_reason(module):
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    assert _long_functions(tree) == []


def test_the_long_function_check_catches_one_and_honours_the_reason():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    long_one = ast.parse(f"def f():\n{body}\n")
    excused = ast.parse(f'def f():\n    """One solver model: its constraints read best together."""\n{body}\n')
    short = ast.parse(f"def f():\n{body[:body.rindex(chr(10))]}\n")
    assert _long_functions(long_one) == [f"f (line 1): {MAX_FUNCTION_LINES + 1} lines"]
    assert _long_functions(excused) == []
    assert _long_functions(short) == []


def test_the_twin_recommender_stays_small():
    """Building, storing, filtering, wording and mentoring live in their own modules."""
    tree = ast.parse((PACKAGE / "twins.py").read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TwinRecommender")
    assert cls.end_lineno - cls.lineno + 1 < 150


def test_the_app_opens_no_database_session_and_holds_no_orm_object():
    """The workspace pages call matcher.workspace's functions: no SQLAlchemy, no models, no sessions."""
    source = (REPO / "app_workspace.py").read_text(encoding="utf-8")
    for banned in ("sqlalchemy", "workspace.models", ".transaction(", "Session("):
        assert banned not in source, f"app_workspace.py uses {banned}"
