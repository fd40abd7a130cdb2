"""Packaging: requirements.txt in step with pyproject, and an honest ``__all__``."""

from __future__ import annotations

import ast
import importlib
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


def pyproject_requirements() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [Requirement(s) for s in data["project"]["dependencies"]]


def requirements_txt() -> list[Requirement]:
    reqs = []
    for raw in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("-"), f"requirements.txt option not supported here: {line}"
        reqs.append(Requirement(line))
    return reqs


def by_name(reqs: list[Requirement]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in reqs}


def test_requirements_txt_lists_the_same_distributions_as_pyproject():
    """requirements.txt and [project].dependencies name exactly the same distributions."""
    txt, toml = by_name(requirements_txt()), by_name(pyproject_requirements())
    assert sorted(txt) == sorted(toml), (
        f"only in requirements.txt: {sorted(set(txt) - set(toml))}; "
        f"only in pyproject.toml: {sorted(set(toml) - set(txt))}"
    )


def test_requirements_txt_pins_match_pyproject():
    """Each distribution has the same version range and extras in both files."""
    txt, toml = by_name(requirements_txt()), by_name(pyproject_requirements())
    for name in set(txt) & set(toml):
        assert (txt[name].specifier, txt[name].extras, txt[name].marker) == (
            toml[name].specifier, toml[name].extras, toml[name].marker), name


@pytest.mark.parametrize("source", [requirements_txt, pyproject_requirements])
def test_no_distribution_is_listed_twice(source):
    """Neither file lists a distribution twice."""
    names = [canonicalize_name(r.name) for r in source()]
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
