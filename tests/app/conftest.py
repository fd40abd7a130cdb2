"""AppTest harness: the real page script, mock mode, a throwaway workspace store."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from batchcore.domain.refsync import drop_zone_key
from batchcore.domain.workflow import in_flight
from studio.runtime import latest_runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (
    "SCENE-001 | Modern kitchen with morning light | 2\n"
    "SCENE-002 | Cozy living room with fireplace | 3\n"
    "SCENE-003 | Home office with plants | 1\n"
)


def make_app(tmp_path, *, clear: bool = True, **secrets: str) -> AppTest:
    """The page in mock mode with a SQLite store under ``tmp_path`` (not run yet)."""
    if clear:
        st.cache_resource.clear()
        st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app_page.py"), default_timeout=30)
    at.secrets["DATABASE_URL"] = f"sqlite:///{tmp_path}/workspaces.sqlite3"
    at.secrets["MOCK_LATENCY_MS"] = "0"
    at.secrets["POLL_SECONDS"] = "0.02"
    for name, value in secrets.items():
        at.secrets[name] = value
    return at


@pytest.fixture(autouse=True)
def _no_real_backend(monkeypatch):
    """Whatever the machine's environment says, these tests run in mock mode."""
    for name in ("ORCHESTRATOR_API_KEY", "API_KEY", "BATCH_USE_MOCK", "DATABASE_URL",
                 "ORCHESTRATOR_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def app(tmp_path):
    """A fresh page in mock mode with its own SQLite workspace store."""
    at = make_app(tmp_path)
    at.run()
    yield at
    rt = latest_runtime()
    if rt is not None:
        for job in rt.runner.running():
            rt.runner.wait(job.key, timeout=30)


def emulator():
    """The emulator behind the page's mock mode."""
    rt = latest_runtime()
    assert rt is not None and rt.emulator is not None
    return rt.emulator


def drop_zone(at: AppTest):
    """The reference drop zone as it is now (a new, empty one follows every upload)."""
    turn = at.session_state["drop_zone_turn"] if "drop_zone_turn" in at.session_state else 0  # noqa: SIM401 - no .get here
    return at.file_uploader(key=drop_zone_key(turn))


def texts(at: AppTest) -> str:
    """Every piece of visible text on the page, joined (for 'is this said?' checks), with
    the markdown escapes of ``batchcore.domain.plaintext.plain`` undone: what a person reads."""
    parts = []
    for kind in ("markdown", "caption", "text", "code", "success", "info", "warning", "error",
                 "header", "subheader", "title", "metric"):
        for el in getattr(at, kind):
            value = getattr(el, "value", None)
            if kind == "metric":
                value = f"{el.label} {el.value}"
            parts.append(str(value if value is not None else getattr(el, "body", "")))
    return unescape("\n".join(parts))


_UNESCAPE = re.compile(r"\\([\\`*_{}\[\]<>#|~:$=&+\-.)])")
#: plain() writes ":" as a character reference and puts an invisible WORD JOINER where a
#: link would start (batchcore.domain.plaintext): both read as nothing special
_OWN_COLON = re.compile(r"(?<!\\)&#58;")


def unescape(text: str) -> str:
    """What a person reads of text written by ``plain()``."""
    return _UNESCAPE.sub(r"\1", _OWN_COLON.sub(":", text).replace("\u2060", ""))


def enter_batch(at: AppTest, text: str = EXAMPLE) -> AppTest:
    at.radio(key="mode").set_value("Batch").run()
    at.text_area(key="batch_text").input(text).run()
    at.button(key="parse").click().run()
    return at


def dry_run(at: AppTest) -> AppTest:
    return at.button(key="dry_run").click().run()


def confirm_generate(at: AppTest) -> AppTest:
    at.button(key="generate").click().run()
    at.button(key="confirm_images_go").click().run()
    return wait_until_idle(at)


def wait_until_idle(at: AppTest, tries: int = 200) -> AppTest:
    """Rerun the page until no job is running and the last outcome has been folded in."""
    rt = latest_runtime()
    for _ in range(tries):
        if rt is not None:
            for job in rt.runner.running():
                rt.runner.wait(job.key, timeout=30)
        at.run()
        state = at.session_state["wf"]
        if not in_flight(state):
            return at
        time.sleep(0.02)
    raise AssertionError("the page never finished its jobs")


def has_button(at: AppTest, key: str) -> bool:
    """Is a button with this key on the page (or in its open dialog) now?"""
    return any(b.key == key for b in at.button)


def dismiss_dialog(at: AppTest) -> AppTest:
    """Esc, ✕ or a click outside the open dialog: the dismiss trigger the browser sends for
    a dialog with ``on_dismiss`` (AppTest has no call for it, so it is sent here)."""
    dialogs = [n for n in at._tree if isinstance(n, Block) and n.type == "dialog"
               and n.proto.dialog.id]
    assert dialogs, "no dismissible dialog with on_dismiss is open"
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = dialogs[-1].proto.dialog.id
    trigger.trigger_value = True
    return at._run(states)


def gallery(at: AppTest) -> dict:
    """What the approval gallery (one custom component) was given to draw in the last run."""
    for node in at.get("bidi_component"):
        if node.proto.component_name.endswith("batch_studio_gallery"):
            return json.loads(node.proto.json)
    return {"scenes": []}


@dataclass(frozen=True)
class Shown:
    """One picture of the gallery as a person meets it: its control's accessible name."""

    label: str
    scene: str
    variant: int
    take: int
    approved: bool
    key: str
    src: str


def pictures(at: AppTest, *, every_take: bool = False) -> list[Shown]:
    """The gallery's pictures (the newest take of each scene, or every take)."""
    return [Shown(s["label"], scene["id"], s["variant"], s["take"], s["approved"], s["key"],
                  s["src"])
            for scene in gallery(at)["scenes"]
            for take in (scene["takes"] if every_take else scene["takes"][:1]) for s in take]


def approve_buttons(at: AppTest) -> list[Shown]:
    """The gallery's picture controls, named ``Approve <scene> #<n>`` (newest takes)."""
    return pictures(at)


def send_intent(at: AppTest, kind: str, scene: str = "", key: str = "") -> AppTest:
    """What the gallery sends when a person acts on it (AppTest keeps the component's state
    under its key), then the rerun that follows."""
    at.session_state["gallery"] = {"intent": {"kind": kind, "scene": scene, "key": key,
                                              "n": uuid.uuid4().hex}}
    return at.run()


def click_picture(at: AppTest, scene: str, variant: int, take: int | None = None) -> AppTest:
    """Click a picture of the gallery: approve it, or withdraw it when it is the pick."""
    shot = next(p for p in pictures(at, every_take=take is not None)
                if p.scene == scene and p.variant == variant and (take is None or p.take == take))
    return send_intent(at, "unapprove" if shot.approved else "approve", scene, shot.key)


def approve(at: AppTest, scene: str, variant: int, take: int | None = None) -> AppTest:
    """Approve a picture (a click on it when it is not the pick already)."""
    shot = next(p for p in pictures(at, every_take=take is not None)
                if p.scene == scene and p.variant == variant and (take is None or p.take == take))
    return send_intent(at, "approve", scene, shot.key)


def label(button) -> str:
    """A button's label as a person reads it (markdown escapes undone)."""
    return unescape(str(button.label))
