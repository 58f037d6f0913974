"""Layering that import-linter cannot express: it sees external packages only whole, so the
rule "only the HTTP modules import aiohttp's server parts" (`aiohttp.web`, its request and
response classes) is checked here by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("receiver", "reconcile", "dlrecon", "sql")
# HTTP modules: any `http` package of a wing, the composition root, and serve's processes
ALLOWED = ("dlrecon.app", "dlrecon.runtime")
SERVER_PARTS = ("aiohttp.web", "aiohttp.web_request", "aiohttp.web_response", "aiohttp.test_utils")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _server_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith(SERVER_PARTS)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found += [n for n in names if n.startswith(SERVER_PARTS)]
    return found


def _allowed(module: str) -> bool:
    in_http_package = "http" in module.split(".")[1:]  # receiver.http, reconcile.oncall.http...
    return in_http_package or any(module == a or module.startswith(f"{a}.") for a in ALLOWED)


def test_only_http_modules_import_aiohttp_server_parts() -> None:
    offenders = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = _module(path)
            imports = _server_imports(ast.parse(path.read_text(), str(path)))
            if imports and not _allowed(module):
                offenders[module] = imports
    assert not offenders, f"aiohttp server parts imported outside the HTTP modules: {offenders}"


def test_the_check_sees_a_server_import() -> None:
    assert _server_imports(ast.parse("from aiohttp import web")) == ["aiohttp.web"]
    assert _server_imports(ast.parse("import aiohttp.web_request")) == ["aiohttp.web_request"]
    assert _server_imports(ast.parse("from aiohttp import ClientSession")) == []
