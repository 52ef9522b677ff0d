"""Request/reply has one contract: endpoints declared in ``switchboard_contracts.endpoints``,
asked with ``Bus.ask`` and served with ``Bus.serve``. These tests read the services' source (not
run it) for the older styles, so that none comes back: a raw NATS request, a serving
subscription of their own, the helpers ``Bus.ask`` and ``Bus.serve`` replaced."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).parents[2]
RUNTIME_PACKAGE = ROOT / "libs/runtime/src/switchboard_runtime"
RETIRED = {"serve_requests", "serve_endpoint"}
"""Serving helpers only the runtime may call (``Bus.serve`` is the way)."""


def product_files() -> Iterator[Path]:
    """Every module of the product (libraries, services, bench), tests left out."""
    for top in ("libs", "services", "bench"):
        for path in sorted((ROOT / top).glob("**/src/**/*.py")):
            if ".venv" not in path.parts:
                yield path


def service_files() -> Iterator[Path]:
    return (path for path in product_files() if (ROOT / "services") in path.parents)


def calls(path: Path) -> Iterator[ast.Call]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            yield node


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def test_services_do_not_send_requests_past_bus_ask() -> None:
    """``nc.request(...)``, ``bus.request(...)``: untyped, and (on a raw client) untraced."""
    found = [
        where(path, call)
        for path in service_files()
        for call in calls(path)
        if isinstance(call.func, ast.Attribute) and call.func.attr == "request"
    ]
    assert found == []


def test_services_do_not_serve_requests_past_bus_serve() -> None:
    """A core subscription in a queue group is how requests are served: ``Bus.serve`` only."""
    found = [
        where(path, call)
        for path in service_files()
        for call in calls(path)
        if isinstance(call.func, ast.Attribute)
        and call.func.attr in {"subscribe", "subscribe_inline"}
        and any(keyword.arg == "queue" for keyword in call.keywords)
    ]
    assert found == []


def names(node: ast.AST) -> set[str]:
    """The names a node uses or imports."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.Attribute):
        return {node.attr}
    if isinstance(node, ast.ImportFrom):
        return {alias.name for alias in node.names}
    return set()


def test_no_module_outside_the_runtime_uses_the_serving_helpers() -> None:
    found = [
        where(path, node)
        for path in product_files()
        if RUNTIME_PACKAGE not in path.parents
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if names(node) & RETIRED
    ]
    assert found == []


def test_the_retired_ask_helper_stays_gone() -> None:
    """``switchboard_runtime.ask`` skipped the tracing and metrics of a request."""
    assert not (RUNTIME_PACKAGE / "ask.py").exists()
    found = [
        where(path, node)
        for path in product_files()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ImportFrom) and node.module == "switchboard_runtime.ask"
    ]
    assert found == []


def test_the_guard_sees_a_raw_request(tmp_path: Path) -> None:
    """The checks above find what they look for (an empty result is not a blind one)."""
    module = tmp_path / "m.py"
    module.write_text("async def f(nc):\n    await nc.request('x', b'', timeout=1)\n")
    assert [c.func.attr for c in calls(module) if isinstance(c.func, ast.Attribute)] == ["request"]
