"""The package's layers: no import cycle among its modules, and no function-local import of
its own modules (an import hidden in a function is how a cycle hides)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlcourse"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    """The package's modules an import statement loads (``from pkg import sub`` loads
    ``pkg.sub`` when it is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:  # relative: resolve against this module's package
            is_package = MODULES[module].name == "__init__.py"
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{node.module}" if node.module else package
        else:
            base = node.module or ""
        names = [base] + [f"{base}.{alias.name}" for alias in node.names]
    found = []
    for name in names:
        if name in MODULES:
            found.append(name)
    return found


def _graph() -> tuple[dict[str, set[str]], list[tuple[str, int, str]]]:
    """Edges module -> modules it imports (a submodule's import also runs its packages'
    ``__init__``), and the function-local imports of the package's modules."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    local: list[tuple[str, int, str]] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        inside = {id(n) for f in functions for n in ast.walk(f) if n is not f}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = [t for t in _imported(node, module) if t != module]
            if id(node) in inside:
                local += [(module, node.lineno, t) for t in targets]
            for target in targets:
                edges[module].add(target)
                parent = target.rpartition(".")[0]
                while parent.count("."):  # rlcourse.x.y -> rlcourse.x (not rlcourse itself)
                    if parent != module and not module.startswith(parent + "."):
                        edges[module].add(parent)
                    parent = parent.rpartition(".")[0]
    return edges, local


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in edges[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_packages_imports():
    edges, _ = _graph()
    assert "rlcourse.checkpoints" in edges["rlcourse.registry"]
    assert "rlcourse.training" in edges["rlcourse.registry"]  # a submodule runs its package
    assert "rlcourse.episodes" in edges["rlcourse.evaluation"]


def test_no_import_cycle_among_the_packages_modules():
    edges, _ = _graph()
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_function_local_import_of_the_packages_modules():
    _, local = _graph()
    found = ", ".join(f"{module}:{line} imports {target}" for module, line, target in local)
    assert local == [], f"import these at the top of the module (a cycle? move the code): {found}"


# docs/architecture.md's layers, from the bottom up: a module imports from its own layer or
# the ones below it, never from above.
LAYERS = [
    {"errors", "files", "resources", "config", "budget", "resume", "toy_envs", "stats", "returns"},
    {"wrappers", "envs", "atari_vector"},
    {"networks", "buffers", "augmentation", "policies", "episodes", "checkpoints", "pretrained"},
    {"agents", "rollouts"},
    {"registry", "training", "evaluation", "value_bias", "metrics", "plots", "video"},
    {"cli", "studies", "course"},
]


def _layer(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{module} is in no layer of docs/architecture.md: add it there")


def test_modules_import_only_from_their_layer_or_below():
    edges, _ = _graph()
    upward = [
        f"{module} (layer {_layer(module) + 1}) imports {target} (layer {_layer(target) + 1})"
        for module, targets in sorted(edges.items())
        if module != "rlcourse"
        for target in sorted(targets)
        if target != "rlcourse" and _layer(target) > _layer(module)
    ]
    assert upward == []
