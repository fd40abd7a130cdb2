"""The page draws widgets and calls services: it never drives the client, the store or the
job runner itself (issue 9's design rule, checked on the source)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL = [*sorted((ROOT / "studio").glob("*.py")), *sorted((ROOT / "pages").glob("*.py")),
         ROOT / "streamlit_app.py", ROOT / "app_page.py"]
PORTS = {"client", "store", "runner", "recorders", "emulator"}
#: batchcore modules that do I/O or own paid work: the shell reaches them only through services
ADAPTERS = {"batchcore.adapters.client", "batchcore.adapters.store", "batchcore.adapters.jobs", "batchcore.adapters.uploads",
            "batchcore.domain.outcomes"}


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_shell_files_exist():
    """The scan below looks at real files (a moved page would make it pass vacuously)."""
    assert all(p.exists() for p in SHELL) and len(SHELL) >= 5


def test_no_shell_file_touches_a_port_of_the_runtime():
    """No attribute access ``<anything>.client/.store/.runner`` on a runtime in the shell."""
    found = []
    for path in SHELL:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Attribute) and node.attr in PORTS \
                    and isinstance(node.value, ast.Name) \
                    and re.fullmatch(r"_?(rt|runtime|again|built)", node.value.id):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert found == []


def test_no_shell_file_imports_an_adapter_or_the_paid_procedures():
    """The shell imports services, state and pure helpers — not the client, the store, the
    runner, the uploader or the worker procedures."""
    found = []
    for path in SHELL:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module in ADAPTERS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}")
            if isinstance(node, ast.ImportFrom) and node.module:  # from batchcore.domain import outcomes
                found += [f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import {a.name}"
                          for a in node.names if f"{node.module}.{a.name}" in ADAPTERS]
            if isinstance(node, ast.Import):
                found += [f"{path.relative_to(ROOT)}:{node.lineno} import {a.name}"
                          for a in node.names if a.name in ADAPTERS]
    assert found == []


def test_the_before_stop_grep_finds_nothing():
    """The team's before-stop check (a grep) agrees."""
    pattern = re.compile(r"\b(rt|runtime)\.(client|store|runner)\b")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in SHELL
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert hits == []
