"""The emulator is an independent witness: no file under ``batchcore/emulator/`` imports the product."""

from __future__ import annotations

import ast
from pathlib import Path

import batchcore.emulator

EMULATOR_DIR = Path(batchcore.emulator.__file__).resolve().parent
PACKAGE = "batchcore.emulator"


def _module_name(path: Path) -> str:
    """``batchcore.emulator.x`` for ``x.py``; the package itself for ``__init__.py``."""
    parts = path.relative_to(EMULATOR_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _package_of(path: Path) -> str:
    """The package a module's relative imports start from."""
    module = _module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported_modules(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports (relative ones resolved to absolute names), with line numbers."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(path).split(".")
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from . import x`` / ``from .. import x`` import the submodules named.
            if not node.module:
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) in ("import_module", "__import__")
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def _outside(name: str) -> bool:
    """Whether ``name`` is part of ``batchcore`` but not of the emulator package."""
    in_batchcore = name == "batchcore" or name.startswith("batchcore.")
    in_emulator = name == PACKAGE or name.startswith(PACKAGE + ".")
    return in_batchcore and not in_emulator


def test_emulator_files_import_nothing_else_from_batchcore():
    """No file under batchcore/emulator/ imports batchcore.* outside the emulator package, absolutely or relatively."""
    files = sorted(EMULATOR_DIR.rglob("*.py"))
    assert len(files) > 10  # the whole package is looked at, not an empty glob
    offenders = [
        f"{path.relative_to(EMULATOR_DIR)}:{line}: {name}"
        for path in files
        for line, name in _imported_modules(path)
        if _outside(name)
    ]
    assert offenders == []


def test_the_import_scan_sees_every_way_out():
    """The scan resolves relative, absolute and dynamic imports, so an escape to the product could not hide."""
    source = (
        "from ..pricing import PRICE_PER_IMAGE\n"
        "from .. import rows\n"
        "import batchcore.errors\n"
        "import importlib\n"
        "importlib.import_module('batchcore.wire.models')\n"
        "from .prices import IMAGE_PRICE\n"
        "from . import ledger\n"
        "import httpx\n"
    )
    names = [name for _, name in _imported_modules(EMULATOR_DIR / "probe.py", source)]
    escapes = sorted(name for name in names if _outside(name))
    assert escapes == ["batchcore", "batchcore.errors", "batchcore.pricing", "batchcore.rows",
                       "batchcore.wire.models"]
    assert "batchcore.emulator.prices" in names and "batchcore.emulator.ledger" in names
