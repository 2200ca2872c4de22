"""No import cycle inside `services/` (a cycle hides which module owns what, and breaks lazy imports)."""

from __future__ import annotations

import grimp

PACKAGE = "services"


def cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Every cycle of direct imports among `package`'s modules (function-level imports included)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    found: list[list[str]] = []
    state: dict[str, str] = {}  # "active" while on the DFS stack, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "active"
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(package):
                continue
            if state.get(imported) == "active":
                found.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in modules:
        if module not in state:
            visit(module, [module])
    return found


def test_services_has_no_import_cycle() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    assert cycles(graph, PACKAGE) == []


def test_a_cycle_is_found() -> None:
    """The check above can fail: two modules importing each other are reported."""
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert cycles(graph, "pkg") == [["pkg.a", "pkg.b", "pkg.a"]]
