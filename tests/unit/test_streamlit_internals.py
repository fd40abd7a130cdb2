"""The Streamlit internals studio/wake.py uses are there in the installed Streamlit.

wake.py looks each of them up under a guard and quietly falls back to the page's 1 s tick when
one is missing, so a Streamlit release that renames one would only make the page slower. This
test says it loudly instead, naming every missing name. pyproject.toml caps Streamlit below the
next minor release for the same reason: when raising that cap, run this test first.

Everything is inspected on the classes, without a running server: attributes that
``AppSession.__init__`` (or ``Runtime.__init__``) sets on the instance are looked for in the
source of that ``__init__``. The names are also read off wake.py's own source, so a new
internal used there without being checked here fails too.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import streamlit

ROOT = Path(__file__).resolve().parents[2]
WAKE = ROOT / "studio" / "wake.py"

RUNTIME = "streamlit.runtime"
APP_SESSION = "streamlit.runtime.app_session"
SCRIPT_REQUESTS = "streamlit.runtime.scriptrunner_utils.script_requests"
RUN_CONTEXT = "streamlit.runtime.scriptrunner_utils.script_run_context"
SESSION_MANAGER = "streamlit.runtime.session_manager"

#: what wake.py imports from Streamlit (module, name)
IMPORTS = {(RUNTIME, "Runtime"), (APP_SESSION, "AppSessionState"),
           (SCRIPT_REQUESTS, "RerunData"), (RUN_CONTEXT, "ThreadState"),
           (RUN_CONTEXT, "get_script_run_ctx")}
#: the attributes wake.py reads on each object, by the name it gives the object there
ATTRIBUTES = {
    "StreamlitRuntime": {"exists", "instance"},                      # streamlit.runtime.Runtime
    "ctx": {"session_id", "query_string", "page_script_hash", "context_info"},  # ScriptRunContext
    "manager": {"get_active_session_info"},                          # Runtime()._session_mgr
    "info": {"session"},                                             # ActiveSessionInfo
    "session": {"_event_loop", "_scriptrunner", "_state", "_create_scriptrunner",
                "has_fragment"},                                     # AppSession
    "AppSessionState": {"SHUTDOWN_REQUESTED"},
}
#: the keyword arguments wake.py passes to RerunData
RERUN_KWARGS = {"query_string", "page_script_hash", "fragment_id", "is_auto_rerun",
                "context_info"}


def _has(cls: type, name: str) -> bool:
    """A class attribute, a dataclass field, or an attribute its ``__init__`` assigns."""
    if hasattr(cls, name) or (dataclasses.is_dataclass(cls)
                              and name in {f.name for f in dataclasses.fields(cls)}):
        return True
    try:
        source = inspect.getsource(cls.__init__)
    except (OSError, TypeError):
        return False
    return re.search(rf"\bself\.{re.escape(name)}\s*(:|=(?!=))", source) is not None


def _wake_tree() -> ast.Module:
    return ast.parse(WAKE.read_text(encoding="utf-8"))


def _lacking(owner: object, names: set[str], where: str) -> list[str]:
    """``where.name`` for each of ``names`` that the class ``owner`` (None: gone) lacks."""
    return [f"{where}.{name}" for name in sorted(names)
            if not isinstance(owner, type) or not _has(owner, name)]


def missing_internals() -> list[str]:
    """Every internal wake.py needs that the installed Streamlit lacks, by its full name."""
    missing: list[str] = []
    found: dict[tuple[str, str], object] = {}
    for module_name, name in sorted(IMPORTS):
        try:
            found[module_name, name] = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            missing.append(f"{module_name}.{name}")
    if missing:  # the rest hangs off these
        return missing

    manager = importlib.import_module(SESSION_MANAGER)
    app_session = importlib.import_module(APP_SESSION)
    context = importlib.import_module(RUN_CONTEXT)
    runtime = found[RUNTIME, "Runtime"]
    missing += _lacking(runtime, ATTRIBUTES["StreamlitRuntime"] | {"_session_mgr"},
                        "streamlit.runtime.Runtime")
    missing += _lacking(getattr(manager, "SessionManager", None), ATTRIBUTES["manager"],
                        f"{SESSION_MANAGER}.SessionManager")
    missing += _lacking(getattr(manager, "ActiveSessionInfo", None), ATTRIBUTES["info"],
                        f"{SESSION_MANAGER}.ActiveSessionInfo")
    missing += _lacking(found[APP_SESSION, "AppSessionState"], ATTRIBUTES["AppSessionState"],
                        f"{APP_SESSION}.AppSessionState")
    missing += _lacking(getattr(app_session, "AppSession", None), ATTRIBUTES["session"],
                        f"{APP_SESSION}.AppSession")
    missing += _lacking(getattr(context, "ScriptRunContext", None), ATTRIBUTES["ctx"],
                        f"{RUN_CONTEXT}.ScriptRunContext")
    missing += _lacking(found[RUN_CONTEXT, "ThreadState"], {"get"}, f"{RUN_CONTEXT}.ThreadState")
    missing += _lacking(getattr(context, "FragmentThreadState", None), {"fragment_id"},
                        f"{RUN_CONTEXT}.ThreadState.get()")
    params = inspect.signature(found[SCRIPT_REQUESTS, "RerunData"]).parameters
    missing += [f"{SCRIPT_REQUESTS}.RerunData({kw}=...)" for kw in sorted(RERUN_KWARGS)
                if kw not in params]
    return missing


def test_every_streamlit_internal_wake_uses_is_there():
    """Fails naming each internal of studio/wake.py that this Streamlit does not have."""
    missing = missing_internals()
    assert missing == [], (
        f"Streamlit {streamlit.__version__} lacks internals studio/wake.py uses (it would fall "
        "back to the 1 s tick without saying so): " + ", ".join(missing))


def test_this_test_checks_every_internal_wake_uses():
    """The imports, attributes and RerunData keywords in wake.py's source are all checked
    above: a new internal used there must be added here."""
    tree = _wake_tree()
    imports = {(node.module, alias.name) for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit")
               for alias in node.names}
    assert imports <= IMPORTS, f"not checked: {sorted(imports - IMPORTS)}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit"):
            renamed = {a.asname for a in node.names if a.asname}
            assert renamed <= set(ATTRIBUTES), f"wake.py names an import {renamed}"
    used: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            used.setdefault(node.value.id, set()).add(node.attr)
    for obj, names in ATTRIBUTES.items():
        assert used.get(obj, set()) - names == set(), (
            f"wake.py reads {sorted(used[obj] - names)} on {obj}: check them here")
    # the session attributes wake.py touches up front with `for name in (...): getattr(...)`
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple):
            names = {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}
            assert names <= ATTRIBUTES["session"], f"not checked: {names - ATTRIBUTES['session']}"
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "RerunData"]
    assert calls, "wake.py no longer builds a RerunData: update this test"
    assert {kw.arg for call in calls for kw in call.keywords} <= RERUN_KWARGS
    # and the manager is Runtime.instance()._session_mgr, its session that of an ActiveSessionInfo
    source = WAKE.read_text(encoding="utf-8")
    assert "StreamlitRuntime.instance()._session_mgr" in source
    assert "info.session" in source


def test_a_missing_internal_is_named(monkeypatch):
    """The check reports a removed name by its full name (as a newer Streamlit would)."""
    from streamlit.runtime.app_session import AppSession

    monkeypatch.delattr(AppSession, "_create_scriptrunner")
    monkeypatch.setattr(AppSession, "__init__", lambda self: None)
    missing = missing_internals()
    assert "streamlit.runtime.app_session.AppSession._create_scriptrunner" in missing
    assert "streamlit.runtime.app_session.AppSession._scriptrunner" in missing
