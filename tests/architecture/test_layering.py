"""The tree's layering, read from the source: no import circle among the project's modules (lazy imports
inside functions count too), nothing in csintegration/ imports a domain, and the platform names no
domain event type."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("csintegration", "domains", "webhooks")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _runtime_nodes(tree: ast.AST):
    """Every node but those under ``if TYPE_CHECKING:`` (imports for annotations only run no code)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rsplit(".", 1)[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
        else:
            continue
        for target in targets:
            # The longest known module the import names (``from .x import name`` → module ``….x``).
            while target and target not in modules:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            # A package's __init__ and its own submodules import each other by design (re-exports).
            if child.startswith(node + ".") or node.startswith(child + "."):
                continue
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if state.get(child) is None:
                found = visit(child)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_there_is_no_import_circle():
    cycle = _cycle(_graph())
    assert cycle is None, " → ".join(cycle or [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a.services": {"a.tasks"}, "a.tasks": {"a.services"}}) == [
        "a.services",
        "a.tasks",
        "a.services",
    ]


def test_the_platform_imports_no_domain():
    graph = _graph()
    offending = sorted(
        f"{name} → {target}"
        for name, targets in graph.items()
        if name.startswith("csintegration.") and name != "csintegration.urls"
        for target in targets
        if target.startswith(("domains.", "webhooks"))
    )
    assert offending == []


def test_the_platform_names_no_domain_event_type():
    from csintegration.events.types import event_types

    names = {event_type.name for event_type in event_types() if not event_type.name.startswith("test.")}
    assert "health_score_change" in names  # registered by the customers app
    mentions = []
    for path in (ROOT / "csintegration").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        mentions += [
            f"{path.relative_to(ROOT)}: {name}"
            for name in names
            if re.search(rf"[\"']{re.escape(name)}[\"']", text)
        ]
    assert mentions == []
