"""The core never imports Streamlit: checked in fresh interpreters, module by module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: imports batchcore, then every submodule found by
# pkgutil.walk_packages, recording which import (if any) first brought Streamlit in.
PROBE = r"""
import importlib, json, pkgutil, sys, traceback

def has_streamlit():
    return sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit."))

report = {"modules": [], "errors": {}, "streamlit_after": {}}
import batchcore
report["modules"].append("batchcore")
if has_streamlit():
    report["streamlit_after"]["batchcore"] = has_streamlit()[:5]

def onerror(name):
    report["errors"][name] = traceback.format_exc(limit=3)

for info in pkgutil.walk_packages(batchcore.__path__, "batchcore.", onerror=onerror):
    name = info.name
    report["modules"].append(name)
    try:
        importlib.import_module(name)
    except BaseException:
        report["errors"][name] = traceback.format_exc(limit=3)
        continue
    if has_streamlit() and not report["streamlit_after"]:
        report["streamlit_after"][name] = has_streamlit()[:5]
print(json.dumps(report))
"""


def fresh_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def probe() -> dict:
    proc = fresh_python(PROBE)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_probe_can_see_streamlit():
    """Sanity check: a fresh interpreter that imports streamlit does show it in sys.modules."""
    pytest.importorskip("streamlit")
    proc = fresh_python("import sys, streamlit; print('streamlit' in sys.modules)")
    assert proc.stdout.strip() == "True", proc.stderr


def test_the_probe_finds_the_core_modules(probe):
    """walk_packages found batchcore and its core submodules (the check is not vacuous)."""
    for name in ("batchcore", "batchcore.domain.rows", "batchcore.domain.pricing", "batchcore.domain.hashing",
                 "batchcore.domain.workflow", "batchcore.domain.statuslog", "batchcore.errors"):
        assert name in probe["modules"]


def test_every_batchcore_module_imports(probe):
    """Every module under batchcore imports cleanly in a fresh interpreter."""
    assert probe["errors"] == {}, "\n".join(f"{k}:\n{v}" for k, v in probe["errors"].items())


def test_importing_batchcore_and_all_submodules_does_not_import_streamlit(probe):
    """Importing batchcore and every submodule under it leaves streamlit out of sys.modules."""
    assert probe["streamlit_after"] == {}, (
        f"streamlit was imported by {probe['streamlit_after']} (first offender shown)"
    )


#: what the pure layers must not bring in at run time: I/O libraries, the shell, the adapters
NOT_IN_PURE = ("httpx", "httpcore", "sqlalchemy", "PIL", "google", "av", "streamlit",
               "starlette", "uvicorn", "tornado", "batchcore.adapters", "batchcore.service_layer",
               "batchcore.emulator", "batchcore.bootstrap")

PURE_PROBE = r"""
import importlib, json, pkgutil, sys
import batchcore.domain, batchcore.wire
for pkg in (batchcore.domain, batchcore.wire):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_the_domain_and_the_wire_bring_in_no_io_library_and_no_adapter():
    """Importing every module of batchcore.domain and batchcore.wire in a fresh interpreter
    loads no HTTP, database, image or storage library, no Streamlit and no adapter."""
    proc = fresh_python(PURE_PROBE)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    found = sorted(m for m in loaded
                   if any(m == bad or m.startswith(bad + ".") for bad in NOT_IN_PURE))
    assert found == []
    assert "batchcore.domain.workflow" in loaded and "batchcore.wire.problems" in loaded
