"""Packaging: pyproject.toml, uv.lock and requirements.txt agree, and an honest ``__all__``.

pyproject.toml holds the ranges, uv.lock the exact versions (with hashes) that the README's
commands install, and requirements.txt is exported from the lock for hosts that read only it.
A failure here means pyproject.toml changed without re-locking: run ``uv lock``, then
``bash scripts/export_requirements.sh`` (README, "Set up on a fresh machine").
"""

from __future__ import annotations

import ast
import difflib
import importlib
import os
import shutil
import subprocess
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import batchcore

ROOT = Path(__file__).resolve().parents[2]
CORE_MODULES = ["errors", "domain.hashing", "domain.pricing", "domain.rows", "domain.statuslog",
                "domain.workflow", "domain.outcomes", "service_layer.services", "bootstrap"]
#: tools that only the tests use: never in the runtime set (requirements.txt, a plain `uv sync`)
TEST_TOOLS = {"pytest", "hypothesis", "pytest-cov", "playwright", "gcp-storage-emulator",
              "ruff", "mypy", "oidc-provider-mock"}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pyproject_requirements() -> list[Requirement]:
    return [Requirement(s) for s in pyproject()["project"]["dependencies"]]


def requirements_txt() -> list[Requirement]:
    """The pinned lines of requirements.txt (continuation lines with hashes skipped)."""
    reqs = []
    for raw in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "--hash")):
            continue
        reqs.append(Requirement(line.rstrip("\\").strip()))
    return reqs


def find_uv() -> str | None:
    """The uv pinned in scripts/uv-requirements.txt (.uv/, made by scripts/venv.sh), else $UV,
    else one on PATH."""
    for candidate in (ROOT / ".uv" / "bin" / "uv", os.environ.get("UV"), shutil.which("uv")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def uv() -> str:
    found = find_uv()
    if found is None:
        pytest.skip("uv is not installed: no .uv/bin/uv (bash scripts/test.sh makes it), "
                    "no $UV, none on PATH")
    return found


def run_uv(uv: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False, env={**os.environ, "UV_NO_PROGRESS": "1"})


def test_uv_lock_is_up_to_date_with_pyproject(uv):
    """`uv lock --check`: uv.lock was made from the pyproject.toml that is committed."""
    done = run_uv(uv, "lock", "--check")
    version = run_uv(uv, "--version").stdout.strip()
    assert done.returncode == 0, (
        f"uv.lock does not match pyproject.toml ({version}): run `uv lock`, then "
        f"`bash scripts/export_requirements.sh`.\n{done.stdout}{done.stderr}")


def test_requirements_txt_is_exported_from_the_lock(uv, tmp_path):
    """requirements.txt is exactly what scripts/export_requirements.sh makes of uv.lock."""
    out = tmp_path / "requirements.txt"
    done = subprocess.run(["bash", "scripts/export_requirements.sh", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "UV": uv, "UV_NO_PROGRESS": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    want = out.read_text(encoding="utf-8").splitlines()
    have = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    diff = "\n".join(difflib.unified_diff(have, want, "requirements.txt", "exported", n=0,
                                          lineterm=""))
    assert have == want, (
        "requirements.txt is not the export of uv.lock: run "
        f"`bash scripts/export_requirements.sh`.\n{diff[:4000]}")


def test_requirements_txt_says_it_is_generated():
    """Its first line says where it comes from, so nobody edits it by hand."""
    first = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# Generated from uv.lock by scripts/export_requirements.sh")


def test_requirements_txt_pins_every_line_with_hashes():
    """Every distribution is pinned exactly (==) and followed by its hashes, so that
    `pip install -r requirements.txt` installs the locked files and nothing else."""
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#")):
            req = Requirement(line.rstrip("\\").strip())
            assert [s.operator for s in req.specifier] == ["=="], line
            assert line.endswith("\\") and lines[i + 1].strip().startswith("--hash=sha256:"), line


def test_requirements_txt_satisfies_pyproject_runtime_dependencies():
    """Each runtime dependency of pyproject.toml is in requirements.txt at a version its range
    allows, with its extras' packages (this part needs no uv)."""
    pinned: dict[str, list[str]] = {}
    for req in requirements_txt():
        pinned.setdefault(canonicalize_name(req.name), []).append(
            next(iter(req.specifier)).version)
    for want in pyproject_requirements():
        name = canonicalize_name(want.name)
        assert name in pinned, f"{name} is in pyproject.toml but not in requirements.txt"
        assert all(want.specifier.contains(v, prereleases=True) for v in pinned[name]), (
            f"{name}: requirements.txt pins {pinned[name]}, pyproject.toml asks {want.specifier}")
    assert "authlib" in pinned, "streamlit[auth] brings Authlib (st.login)"


def test_test_tools_are_an_extra_and_not_in_the_runtime_set():
    """The test tools are the optional extra `test` (no dependency group, which a plain
    `uv sync` on a host would install), and requirements.txt has none of them."""
    data = pyproject()
    extra = {canonicalize_name(Requirement(s).name)
             for s in data["project"]["optional-dependencies"]["test"]}
    assert extra >= TEST_TOOLS
    assert "dependency-groups" not in data
    runtime = {canonicalize_name(r.name) for r in requirements_txt()}
    assert runtime & TEST_TOOLS == set()


def test_streamlit_is_capped_below_the_next_minor():
    """studio/media.py uses a Streamlit internal: pyproject allows one minor release only."""
    (streamlit,) = [r for r in pyproject_requirements() if r.name == "streamlit"]
    assert "auth" in streamlit.extras
    assert any(s.operator == "<" for s in streamlit.specifier), str(streamlit)


def test_no_distribution_is_listed_twice_in_pyproject():
    """[project].dependencies names each distribution once."""
    names = [canonicalize_name(r.name) for r in pyproject_requirements()]
    assert [n for n, c in Counter(names).items() if c > 1] == []


def test_package_all_names_only_things_that_exist():
    """Every name in batchcore.__all__ exists on the package."""
    missing = [n for n in batchcore.__all__ if not hasattr(batchcore, n)]
    assert missing == []


def test_package_all_has_no_duplicates():
    """batchcore.__all__ lists each name once."""
    assert [n for n, c in Counter(batchcore.__all__).items() if c > 1] == []


def test_star_import_works():
    """'from batchcore import *' succeeds and brings in every name in __all__."""
    namespace: dict = {}
    exec("from batchcore import *", namespace)
    assert set(batchcore.__all__) <= set(namespace)


def test_package_all_is_a_literal_list_of_strings():
    """__all__ in batchcore/__init__.py is a literal list of strings (tools can read it)."""
    tree = ast.parse((ROOT / "batchcore" / "__init__.py").read_text(encoding="utf-8"))
    values = [n.value for n in tree.body if isinstance(n, ast.Assign)
              and any(getattr(t, "id", None) == "__all__" for t in n.targets)]
    assert len(values) == 1 and isinstance(values[0], ast.List)
    assert all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in values[0].elts)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_all_is_honest(module):
    """Each core module's __all__ names only things it defines, once each."""
    mod = importlib.import_module(f"batchcore.{module}")
    assert [n for n in mod.__all__ if not hasattr(mod, n)] == []
    assert [n for n, c in Counter(mod.__all__).items() if c > 1] == []
