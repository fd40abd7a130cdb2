"""The single page, top to bottom: upload, prompts, actions, thumbnails, video, status log.

Shell code only: it draws widgets and calls batchcore, which makes every decision.
Prompts, file names and server messages are always drawn as plain text (``st.text``,
``st.code``, dataframes), never as markdown or HTML.
"""

from __future__ import annotations

import streamlit as st

from batchcore import (
    MAX_ROWS,
    MAX_VARIANTS,
    PRICE_PER_IMAGE,
    ParseResult,
    format_money,
    image_cost,
    parse_batch,
    parse_single,
)
from batchcore.domain import clock, paid_steps
from batchcore.domain.gallery import (
    video_button_label,
    video_step_text,
)
from batchcore.domain.grid import apply_grid_edits, empty_parse_note
from batchcore.domain.naming import workspace_name
from batchcore.domain.plaintext import plain
from batchcore.domain.pricing import VIDEO_PRICES
from batchcore.domain.progress import elapsed_text, work_progress
from batchcore.domain.refsync import drop_zone_key
from batchcore.domain.rows import plural, prompt_length_note, rows_from_records
from batchcore.domain.statuslog import render_log
from batchcore.domain.workflow import (
    Inputs,
    WorkflowState,
    current_hash,
    describe_receipt,
    in_flight,
    parse_is_stale,
    unfetched,
    video_confirmation_ok,
)
from batchcore.service_layer import services
from batchcore.service_layer.services import Notice

from . import gallery, media
from . import nav as links
from . import live as live_updates
from .runtime import Runtime
from .state import (
    OWNER_KEY,
    TOAST_KEY,
    current,
    dismiss,
    drop_info,
    keep,
    new_workspace,
    note_finished,
    notices,
    workspace_id,
    ws,
)

MODES = ["Single", "Batch"]
GRID_COLUMNS = ["scene_id", "prompt", "variants"]


_now = clock.utcnow


_DRAW = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success}


def show_notices(section: str) -> None:
    """What the services said in this section; it stays until the person dismisses it."""
    items: list[Notice] = notices(section)
    for n in items:
        _DRAW[n.level](plain(n.text))
    if items and any(n.level in ("error", "warning") for n in items) \
            and st.button("Dismiss", key=f"dismiss_{section}"):
        dismiss(section)
        st.rerun()


# --- sidebar: pages, the workspace's name, recent workspaces --------------------------------


def nav_links() -> None:
    """Links to the pages that keep the open workspace in the address."""
    wid = workspace_id()
    links.link("studio", "Studio", ":material/movie:", wid)
    links.link("history", "History", ":material/history:", wid)


def _rename(rt: Runtime) -> None:
    """The name box changed: rename (a callback, so a name typed is never overwritten)."""
    keep(services.rename_workspace(rt, ws(), st.session_state.get("workspace_name", "")), "top")
    st.session_state.pop("_name_for", None)


def workspace_sidebar(rt: Runtime) -> None:
    """Page links, the workspace's name, New workspace and recent workspaces (drawn into
    the sidebar slot the caller opened)."""
    nav_links()
    st.divider()
    st.subheader("Workspace")
    state = current()
    name = workspace_name(state)
    wid = workspace_id()
    if st.session_state.get("_name_for") != (wid, name):
        st.session_state["_name_for"] = (wid, name)
        st.session_state["workspace_name"] = name
    st.text_input("Name", key="workspace_name", max_chars=60, on_change=_rename,
                  args=(rt,), help="Press Enter to rename the workspace.")
    if wid:
        st.caption(plain(f"Saved as {wid} — bookmark this page's address to come back."))
    else:
        st.caption("Not saved yet: the workspace is saved (and gets its own address) "
                   "with its first prompt, upload or batch.")
    if st.button("New workspace", key="new_workspace", icon=":material/add:"):
        new_workspace(rt)
        st.rerun()
    recent = [r for r in services.recent_workspaces(
        rt, st.session_state.get(OWNER_KEY, ""), limit=9) if r.workspace_id != wid][:8]
    if recent:
        st.caption("Recent workspaces")
        for r in recent:
            links.link("studio", plain(r.name), ":material/folder_open:", r.workspace_id,
                       key_help=f"Changed {r.updated_at:%Y-%m-%d %H:%M} UTC")
    if rt.store_problem:
        st.error(plain(rt.store_problem))


# --- header -------------------------------------------------------------------------------


def header(rt: Runtime) -> None:
    """What the page runs against (the title is drawn before, by ``studio.masthead``)."""
    if rt.settings.use_mock:
        st.info(f"**Mock mode — no real cost.** Calls go to the built-in emulator "
                f"({plain(rt.settings.mock_reason)}).", icon=":material/science:")
    else:
        st.warning("**Real backend — real cost.** Paid steps are billed to the orchestrator "
                   "account.", icon=":material/payments:")
    with st.sidebar:
        st.subheader("Backend")
        for label, value in rt.settings.describe().items():
            st.text(f"{label}: {value}")
        for problem in rt.settings.problems:
            st.warning(plain(problem))
        check = services.check_backend(rt)
        {"accepted": st.success, "refused": st.error, "unknown": st.warning}[check.state](
            plain(check.text))
        if check.state != "accepted" and st.button("Check the key again", key="check_key"):
            services.check_backend(rt, again=True)
            st.rerun()
        for note in services.deployment_notes(rt, signed_in=bool(st.session_state.get(OWNER_KEY))):
            st.caption(plain(note))


# --- 1. upload zone ---------------------------------------------------------------------

DROP_ZONE_TURN = "drop_zone_turn"


def upload_zone(rt: Runtime) -> None:
    st.header("1. Reference images")
    state = current()
    turn = st.session_state.get(DROP_ZONE_TURN, 0)
    files = st.file_uploader(
        "Drop JPG or PNG reference images (at most 6, 10 MB each)",
        # No type filter: Streamlit would raise on a name it dislikes (a NUL, another
        # extension); batchcore checks every file's bytes and says why one is refused.
        accept_multiple_files=True, key=drop_zone_key(turn),
    ) or []
    done: set[str] = st.session_state.setdefault("uploaded_file_ids", set())
    fresh = [f for f in files if f.file_id not in done]
    if fresh:
        with st.spinner("Checking and uploading…"):
            out = keep(services.add_references(rt, ws(), [(f.name, f.getvalue()) for f in fresh]),
                       "upload")
        done.update(f.file_id for f in fresh)
        state = out.ws.state
    if files:
        # Every dropped file has been sent (or refused, or failed, each said): Streamlit need
        # not hold its bytes for the rest of the session. A new, empty drop zone replaces this
        # one; a chip's Remove detaches a reference.
        ids = [f.file_id for f in files]
        del files, fresh
        media.release_uploads(ids)
        st.session_state[DROP_ZONE_TURN] = turn + 1
        st.rerun()
    show_notices("upload")
    if state.references:
        st.caption(f"{len(state.references)} reference image(s), attached to every row:")
        cols = st.columns(min(len(state.references), 6))
        for i, ref in enumerate(state.references):  # a 7th (an old workspace) wraps, not vanishes
            with cols[i % len(cols)]:
                media.reference_chip(rt, ref)
                st.text(ref.name)
                if st.button("Remove", key=f"rm_ref_{i}_{ref.sha256[:8]}",
                             icon=":material/close:", help=f"Remove reference {i + 1}"):
                    keep(services.remove_reference(rt, ws(), ref.url), "upload")
                    st.rerun()


# --- 2. prompts -------------------------------------------------------------------------


def _widget_values(inputs: Inputs) -> dict[str, object]:
    """The prompt widgets' values for the saved inputs, by widget key."""
    return {"mode": "Single" if inputs.mode == "single" else "Batch",
            "batch_text": inputs.batch_text, "single_prompt": inputs.single_prompt,
            "single_variants": inputs.single_variants, "single_scene": inputs.single_scene_id}


_SINGLE_WIDGETS = ("single_prompt", "single_variants", "single_scene")


def _restore_widgets(inputs: Inputs) -> None:
    """Give the widgets the saved inputs once per session (refresh restores the page)."""
    if st.session_state.get("_widgets_restored"):
        return
    st.session_state["_widgets_restored"] = True
    for key, value in _widget_values(inputs).items():
        st.session_state[key] = value


def _restore_switched_mode(inputs: Inputs, mode: str) -> None:
    """Streamlit forgets a widget that a run does not draw, so after Single → Batch the Batch
    box would come back empty (and the empty text be saved). In the run that switches back,
    the mode's widgets get the saved inputs again, before they are drawn."""
    drawn = st.session_state.get("_mode_drawn")
    st.session_state["_mode_drawn"] = mode
    if drawn is None or drawn == mode:
        return
    values = _widget_values(inputs)
    for key in _SINGLE_WIDGETS if mode == "single" else ("batch_text",):
        st.session_state[key] = values[key]


def prompts(rt: Runtime) -> None:
    st.header("2. Prompts")
    state = current()
    _restore_widgets(state.inputs)
    _recent_batches(rt)
    choice = st.radio("Mode", MODES, key="mode", horizontal=True)
    mode = "single" if choice == "Single" else "batch"
    inputs = state.inputs.model_copy(update={"mode": mode})
    _restore_switched_mode(state.inputs, mode)

    if mode == "single":
        prompt = st.text_area("Prompt", key="single_prompt", height=90,
                              placeholder="Modern kitchen with morning light")
        c1, c2 = st.columns([1, 2])
        with c1:
            variants = st.radio("Variants", [1, 2, 3], key="single_variants", horizontal=True)
        with c2:
            scene = st.text_input("Scene id (optional)", key="single_scene",
                                  placeholder="SCENE-001")
        inputs = inputs.model_copy(update={"single_prompt": prompt, "single_variants": variants,
                                           "single_scene_id": scene})
        st.caption(plain(prompt_length_note(prompt)))
        parsed = parse_single(prompt, variants, scene or None) if prompt else ParseResult()
        stale = False
    else:
        st.caption(f"One row per line: `scene_id | prompt | variants` — at most {MAX_ROWS} rows "
                   f"and {MAX_VARIANTS} variants per row. Lines starting with # are ignored.")
        text = st.text_area("Batch", key="batch_text", height=180,
                            placeholder="SCENE-001 | Modern kitchen with morning light | 2\n"
                                        "SCENE-002 | Cozy living room with fireplace | 3")
        inputs = inputs.model_copy(update={"batch_text": text})
        if st.button("Parse", key="parse"):
            # saved before anything slow is drawn: a click that cuts this run short keeps it
            inputs = keep(services.parse_text(rt, ws(), text), "prompts").ws.state.inputs
            st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
        parsed, stale = _batch_draft(rt, inputs)

    state = keep(services.update_inputs(rt, ws(), inputs, parsed), "prompts").ws.state
    show_notices("prompts")
    _preview(state, parsed, stale)


def _recent_batches(rt: Runtime) -> None:
    """Batches dry-run before (any workspace of this person), loaded back in one click."""
    recent = services.recent_batches(rt, st.session_state.get(OWNER_KEY, ""))
    if not recent:
        return
    with st.expander("Recent batches", icon=":material/history:"):
        for i, (label, text) in enumerate(recent):
            c1, c2 = st.columns([5, 1])
            c1.text(label)
            if c2.button("Load", key=f"load_recent_{i}", width="stretch"):
                keep(services.load_batch(rt, ws(), text, f"loaded a recent batch: {label}"),
                     "prompts")
                st.session_state["_widgets_restored"] = False
                st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
                st.rerun()


def _batch_draft(rt: Runtime, inputs: Inputs) -> tuple[ParseResult, bool]:
    """The batch draft: the parsed text's rows as edited in the grid, and its errors."""
    if inputs.parsed_text is None:
        return ParseResult(), False
    text_result = parse_batch(inputs.parsed_text)
    stale = parse_is_stale(inputs)
    if text_result.errors:
        st.error(f"{len(text_result.errors)} line(s) need fixing — nothing is sent until they are:")
        # a dataframe shows each cell as plain text
        st.dataframe(([{"line": e.line, "problem": e.message, "text": e.text}
                                   for e in text_result.errors]),
                     hide_index=True, width="stretch")
    if not inputs.grid and not text_result.errors:
        note = empty_parse_note(inputs.parsed_text, 0, 0)
        if note:
            st.warning(plain(note))
        return ParseResult(), stale
    st.caption("Parsed rows — edit them here; every edit is checked again and changes the batch.")
    # The edits as the browser sent them (Streamlit would coerce them, or fail on a bad shape).
    edits = apply_grid_edits(inputs.grid, st.session_state.get(
        f"grid_{st.session_state.get('grid_version', 0)}"))
    if not edits.ok:
        st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
        keep(services.refuse_input(rt, ws(), "grid edit", edits.message()), "prompts")
    version = st.session_state.get("grid_version", 0)
    import pandas as pd  # only when there is a grid: pandas costs ~0.4 s at start-up

    frame = pd.DataFrame(list(inputs.grid) or [], columns=GRID_COLUMNS)
    st.data_editor(
        frame, key=f"grid_{version}", num_rows="dynamic", hide_index=True,
        width="stretch",
        column_config={
            "scene_id": st.column_config.TextColumn("scene_id", max_chars=50, required=True),
            "prompt": st.column_config.TextColumn("prompt", max_chars=1000, required=True,
                                                  width="large"),
            "variants": st.column_config.NumberColumn("variants", min_value=1,
                                                      max_value=MAX_VARIANTS, step=1,
                                                      required=True),
        },
    )
    grid_result = rows_from_records(edits.records)
    return ParseResult(rows=grid_result.rows,
                       errors=[*text_result.errors, *grid_result.errors]), stale


def _preview(state: WorkflowState, parsed: ParseResult, stale: bool) -> None:
    rows = state.draft.rows
    if stale:
        st.warning("The text changed since you pressed Parse — press **Parse** again before "
                   "the dry-run.", icon=":material/edit:")
    if not rows and not state.draft.errors:
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Rows", len(rows))
    c2.metric("Images", sum(r.variants for r in rows))
    c3.metric("Estimated cost", format_money(image_cost(rows)),
              help=f"{format_money(PRICE_PER_IMAGE)} per image")
    # Batch-text errors are listed in their table above; the others are said here.
    for e in state.draft.errors:
        if e.source != "batch":
            st.error(plain(str(e)))


# --- 3. actions ---------------------------------------------------------------------------


def actions(rt: Runtime) -> None:
    st.header("3. Generate")
    state = current()
    now = _now()
    hash_ = current_hash(state, now)
    spend = services.spend_view(rt, ws(), now)
    gate = services.generate_gate(rt, ws(), spend, now)
    cost = image_cost(state.draft.rows)

    # Dry-Run Images is never disabled: a click right after typing (the text commits as the
    # box loses focus) must not be lost; when it cannot run yet, the service says why.
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        dry = st.button("Dry-Run Images", key="dry_run", width="stretch",
                        icon=":material/receipt_long:")
    with c2:
        gen_click = st.button("Generate Images", key="generate", type="primary",
                              disabled=not gate, width="stretch",
                              icon=":material/auto_awesome:")
    with c3:
        if in_flight(state, "images"):
            generation_progress(rt)
        elif not gate:
            st.caption(f"Generate Images is off: {plain(gate.reason)}")
        else:
            st.caption(f"Ready: {plural(len(state.draft.rows), 'row')}, "
                       f"{plural(sum(r.variants for r in state.draft.rows), 'image')}, "
                       f"{format_money(cost)}. You will confirm before anything is spent.")
    if dry:
        dismiss("actions")
        drop_info("prompts")  # e.g. "press Dry-Run Images" after a re-roll: done now
        with st.spinner("Dry-run…"):
            note = st.empty()  # "the server is busy — retrying in N s" while it waits
            keep(services.dry_run(rt, ws(), now, on_wait=lambda text: note.info(plain(text))),
                 "actions")
        st.rerun()
    if gen_click and gate:
        _ask(paid_steps.ask_images(hash_))
    receipt = current().receipts.get(hash_)
    if receipt is not None:
        st.success(f"Dry-run receipt: {describe_receipt(receipt)} — hash {receipt.batch_hash[:12]}… "
                   f"at {receipt.created_at:%H:%M:%S} UTC", icon=":material/receipt_long:")
        if receipt.server_estimated_cost is not None and \
                receipt.server_estimated_cost != receipt.estimated_cost:
            st.caption(f"The server estimated {format_money(receipt.server_estimated_cost)}; "
                       "our own count is the one shown.")
    st.caption(plain(spend.describe()))
    if spend.durable_note:
        st.warning(spend.durable_note)
    if spend.problem:
        st.error(plain(f"The spend ledger cannot be read, so paid actions are off: {spend.problem}"))
    show_notices("actions")
    outcome_notices(rt)
    if _asked("images", allowed=bool(gate), batch_hash=hash_):
        confirm_images(rt, hash_)


#: the paid step the person just asked for (``batchcore.domain.paid_steps``); nothing else
#: opens or keeps open a paid dialog
ASK_KEY = "_paid_ask"
#: what was typed or chosen inside the video dialog: it goes with the dialog
_VIDEO_INPUTS = ("video_typed", "video_again")


def _ask(ask: paid_steps.Ask) -> None:
    """A click on Generate Images or Generate Video: open its dialog, fresh."""
    _end_ask()
    st.session_state[ASK_KEY] = ask


def _end_ask() -> None:
    """The paid dialog closed — Confirm, Cancel, Esc, ✕ or a click outside it: its ask is
    over (no rerun brings it back), and what was typed in it goes too."""
    st.session_state.pop(ASK_KEY, None)
    for key in _VIDEO_INPUTS:
        st.session_state.pop(key, None)


def _asked(step: paid_steps.PaidStep, *, allowed: bool, batch_hash: str = "") -> bool:
    """Draw ``step``'s dialog now? Only while the person's ask for it stands; an ask that
    lapsed (the batch changed, the work was sent, the gate closed) is forgotten."""
    ask = st.session_state.get(ASK_KEY)
    if ask is None or ask.step != step:
        return False
    if paid_steps.standing(ask, batch_hash=batch_hash, allowed=allowed) is None:
        _end_ask()
        return False
    return True


_SCENE_ICON = {"waiting": ":material/schedule:", "running": ":material/progress_activity:",
               "completed": ":material/check_circle:", "failed": ":material/error:"}


def generation_progress(rt: Runtime) -> None:
    """Per-scene progress and elapsed time, next to the Generate button: redrawn when the
    workspace changes (the status log's live updates rerun the page), never on a timer."""
    state = current()
    items = work_progress(state, _now(), "images", services.queued_work(rt, ws()))
    for item in items:
        st.markdown(f":material/hourglass_top: **{plain(item.headline)}** — "
                    f"{elapsed_text(item.elapsed_seconds)} elapsed")
        total = len(item.scenes) or 1
        st.progress(item.fraction if item.fraction is not None
                    else item.done_scenes / total,
                    text=f"{item.done_scenes} of {len(item.scenes)} scenes done")
        st.caption(plain("  ·  ".join(f"{s.scene_id}: {s.status}" for s in item.scenes)))


def outcome_notices(rt: Runtime) -> None:
    """Unfinished or failed paid work stays on screen until the person dismisses it."""
    state = current()
    seen: set[str] = st.session_state.setdefault("dismissed", set())
    for sub in unfetched(state):
        what = "Images" if sub.kind == "images" else "Videos"
        st.warning(plain(f"{what} ({format_money(sub.cost)}): {sub.fetch_problem or 'billed — results not fetched yet.'}"),
                   icon=":material/cloud_sync:")
        if st.button("Fetch results again", key=f"fetch_{sub.batch_hash[:16]}"):
            keep(services.fetch_results_again(rt, ws(), sub.batch_hash), "actions")
            st.rerun()
    for sub in state.submissions.values():
        if sub.state not in ("failed", "outcome_unknown", "rejected", "not_sent") \
                or sub.key in seen:
            continue
        what = "Image generation" if sub.kind == "images" else "Video generation"
        if sub.state == "outcome_unknown":
            st.error(plain(f"{what}: outcome unknown. {sub.message}"), icon=":material/help:")
        elif sub.state == "not_sent":
            st.warning(plain(f"{what} was not sent. {sub.message}"))
        elif sub.state == "rejected":
            st.error(plain(f"{what} was refused by the server. {sub.message}"))
        else:
            st.error(plain(f"{what} failed. {sub.message}"))
        if st.button("Dismiss", key=f"dismiss_{sub.batch_hash[:16]}"):
            seen.add(sub.key)
            st.rerun()


@st.dialog("Confirm paid image generation", on_dismiss=_end_ask)
def confirm_images(rt: Runtime, hash_: str) -> None:
    state = current()
    rows = state.draft.rows
    receipt = state.receipts.get(hash_)
    if receipt is None:
        st.error("The dry-run for this batch is gone; run Dry-Run Images again.")
        return
    st.write(f"This sends **{plural(len(rows), 'row')}** for live generation: "
             f"**{plural(receipt.images, 'image')}** for "
             f"**{plain(format_money(receipt.estimated_cost))}**.")
    st.dataframe(([{"scene_id": r.scene_id, "variants": r.variants,
                                "cost": format_money(PRICE_PER_IMAGE * r.variants)}
                               for r in rows]), hide_index=True, width="stretch")
    if not rt.settings.use_mock:
        st.warning("This is the real backend: it will be billed.", icon=":material/payments:")
    c1, c2 = st.columns(2)
    if c1.button(f"Confirm — spend {format_money(receipt.estimated_cost)}", type="primary",
                 key="confirm_images_go"):
        _end_ask()
        dismiss("actions")
        keep(services.confirm_images(rt, ws(), hash_), "actions", action=True)
        st.rerun()
    if c2.button("Cancel", key="confirm_images_cancel"):
        _end_ask()
        st.rerun()


# --- thumbnails and approvals -----------------------------------------------------------


def gallery_intents(rt: Runtime) -> None:
    """What the gallery asked since the last run (a click on a picture, Re-roll, Generate
    Video), handed to the services before anything is drawn, so this run shows the result."""
    intent = gallery.pending_intent()
    if intent is None:
        return
    if intent.kind == "approve":
        keep(services.approve_picture(rt, ws(), intent.scene_id, intent.key), "approve")
    elif intent.kind == "unapprove":
        keep(services.unapprove_picture(rt, ws(), intent.scene_id, intent.key), "approve")
    elif intent.kind == "reroll":
        keep(services.reroll_scene(rt, ws(), intent.scene_id), "prompts")
        st.session_state["_widgets_restored"] = False
        st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
    elif intent.kind == "video" and services.video_gate(rt, ws()):
        _ask(paid_steps.ask_videos())


def thumbnails(rt: Runtime) -> None:
    state = current()
    retry_failed(rt)
    if not state.images:
        return
    st.header("4. Approve one image per scene")
    gallery.draw(rt, ws(), services.video_gate(rt, ws()), video_button_label(state))
    show_notices("approve")


# --- video --------------------------------------------------------------------------------


def video(rt: Runtime) -> None:
    state = current()
    if state.approvals:
        st.header("5. Video")
        st.caption(plain(video_step_text(state)))
        busy = bool(in_flight(state, "videos"))
        gate = services.video_gate(rt, ws())
        if st.button(video_button_label(state), key="generate_video", disabled=not gate,
                     icon=":material/movie:"):
            _ask(paid_steps.ask_videos())
        if not gate and not busy:
            st.caption(plain(gate.reason))
        if busy:
            for item in work_progress(state, _now(), "videos"):
                st.caption(plain(f"{item.headline} — {elapsed_text(item.elapsed_seconds)} "
                                 "elapsed; see the status log."))
        show_notices("video")
        if _asked("videos", allowed=bool(gate)):
            video_dialog(rt)
    if state.videos:
        notes = services.clip_notes(ws())
        cols = st.columns(3)
        for i, clip in enumerate(state.videos.values()):
            with cols[i % 3]:
                st.text(f"{clip.scene_id} — {clip.status}")
                if clip.status == "done" and clip.url:
                    media.video(rt, clip.url)
                elif notes.get(clip.scene_id):
                    st.text(notes[clip.scene_id])


@st.dialog("Generate video", width="large", on_dismiss=_end_ask)
def video_dialog(rt: Runtime) -> None:
    c1, c2, c3 = st.columns(3)
    models = list(VIDEO_PRICES)
    model = c1.radio("Model", models, index=models.index("veo3_fast"), key="video_model",
                     format_func=lambda m: f"{m} ({format_money(VIDEO_PRICES[m])}/clip)")
    aspect = c2.radio("Aspect", ["16:9", "9:16"], key="video_aspect")
    resolution = c3.radio("Resolution", [720, 1080], key="video_resolution")
    choices = services.video_choices(ws())
    made = [c.scene_id for c in choices if c.can_make_again]
    again: list[str] = []
    if made:
        again = st.multiselect(
            "Make these clips again (each is billed again)", made, key="video_again",
            placeholder="None: scenes that have a clip are left out",
            help="These approved images already have a clip. Choose one only to make and pay "
                 "for it a second time.")
    plan = services.plan_videos(ws(), model, aspect, resolution, again)
    sent = {i.scene_id for i in plan.items}
    st.dataframe(([{"scene_id": c.scene_id, "approved image": f"#{c.image.variant}",
                    "clip": c.note or "none yet",
                    "sent now": ("again" if c.scene_id in sent and c.can_make_again
                                 else "yes" if c.scene_id in sent else "no"),
                    "cost": format_money(VIDEO_PRICES[model]) if c.scene_id in sent else "—"}
                   for c in choices]), hide_index=True, width="stretch")
    st.write(f"**{plan.clips} clip{'s' if plan.clips != 1 else ''}** × "
             f"{plain(format_money(VIDEO_PRICES[model]))} = **{plain(format_money(plan.cost))}**"
             f" — {plain(model)}, {plain(aspect)}, {resolution}p, 8 s each")
    if not plan.clips:  # nothing would be sent: no count to type, nothing to confirm
        st.info(plain(services.nothing_to_send(plan)), icon=":material/check_circle:")
        if st.button("Close", key="video_cancel"):
            _end_ask()
            st.rerun()
        return
    typed = st.text_input(f"Type the number of clips ({plan.clips}) to confirm",
                          key="video_typed")
    ok = video_confirmation_ok(typed, plan.clips)
    if typed.strip() and not ok:
        st.error(plain(f"Type exactly {plan.clips} to confirm; you typed {typed.strip()!r}."))
    over = services.spend_view(rt, ws()).refusal(plan.cost)
    if over:
        st.error(plain(over))
    b1, b2 = st.columns(2)
    # Never disabled: a click right after typing the count must not be lost; the service
    # refuses a wrong count or a cost over the cap and says why.
    if b1.button(f"Confirm — spend {format_money(plan.cost)}", type="primary",
                 key="video_go"):
        out = keep(services.confirm_videos(rt, ws(), plan, typed), "video", action=True)
        if any(n.level == "error" for n in out.notices):
            for n in out.notices:
                st.error(plain(n.text))
            return
        _end_ask()
        st.rerun()
    if b2.button("Cancel", key="video_cancel"):
        _end_ask()
        st.rerun()


# --- 6. status log ----------------------------------------------------------------------


def _log_text(state: WorkflowState) -> str:
    """The last 300 log lines, newest first, rendered once per change (the log only grows,
    so its length and last line identify it): a status tick does not re-render it."""
    key = (len(state.log), state.log[-1] if state.log else None)
    cached = st.session_state.get("_log_text")
    if cached is None or cached[0] != key:
        cached = (key, render_log(state.log[-300:], newest_first=True))
        st.session_state["_log_text"] = cached
    return cached[1]


def status_log(rt: Runtime) -> None:
    st.header("Status log", anchor="status-log")
    state = current()
    # Pushed: the live component reruns this fragment when the stored workspace changes.
    # The slow timer is only the last resort while paid work is in flight.
    every = live_updates.SAFETY_TICK if in_flight(state) else None

    @st.fragment(run_every=every)
    def live() -> None:
        before = current()
        out = keep(services.sync(rt, ws()))
        live_updates.follow(rt, out.ws)
        note_finished(before, out.ws.state)
        if out.changed or bool(in_flight(before)) != bool(in_flight(out.ws.state)):
            st.rerun(scope="app")
        s = out.ws.state
        for item in work_progress(s, _now(), queued=services.queued_work(rt, ws())):
            st.info(plain(f"{item.headline} — {elapsed_text(item.elapsed_seconds)} elapsed."),
                    icon=":material/hourglass_top:")
            if item.fraction is not None:
                st.progress(item.fraction)
        if s.log:
            st.code(_log_text(s), language=None,
                    wrap_lines=True, height=360 if len(s.log) > 14 else "content")
            st.caption(f"{plural(len(s.log), 'entry')}, newest first.")
        else:
            st.caption("Nothing has happened yet.")

    live()


# --- exports, imports and retries ---------------------------------------------------------


def retry_failed(rt: Runtime) -> None:
    """Offer a new batch of just the rows the server said failed in the last image run."""
    names = services.failed_rows(ws())
    if not names:
        return
    st.warning(plain(f"{plural(len(names), 'row')} failed: {', '.join(names)}."))
    if st.button("Retry failed rows", key="retry_failed"):
        keep(services.retry_failed_rows(rt, ws()), "prompts")
        st.session_state["_widgets_restored"] = False
        st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
        st.rerun()


def exports(rt: Runtime) -> None:
    from batchcore.domain.exports import (
        approved_zip,
        manifest_csv,
        manifest_json,
        manifest_records,
        status_log_text,
    )

    state = current()
    with st.expander("Export and import"):
        records = manifest_records(state)
        c1, c2, c3, c4 = st.columns(4)
        # files are built when clicked (deferred), not on every run of the page; a click
        # does not rerun the page (a rerun would withdraw the file being fetched)
        c1.download_button("Manifest (CSV)", lambda: "\ufeff" + manifest_csv(records),
                           file_name="batch-manifest.csv", mime="text/csv",
                           disabled=not records, key="dl_csv", on_click="ignore")
        c2.download_button("Manifest (JSON)", lambda: manifest_json(records),
                           file_name="batch-manifest.json", mime="application/json",
                           disabled=not records, key="dl_json", on_click="ignore")
        # A prepared ZIP belongs to the approvals it was made from; new picks need a new one.
        picks = tuple(sorted((s, a.image.url) for s, a in state.approvals.items()))
        if records and c3.button("Prepare ZIP of approved images", key="zip"):
            st.session_state["zip_bytes"] = (
                picks, approved_zip(state, lambda url: services.download_asset(rt, url)))
        made = st.session_state.get("zip_bytes")
        if made and made[0] == picks:
            c3.download_button("Download ZIP", made[1],
                               file_name="approved-images.zip", mime="application/zip",
                               key="dl_zip")
        c4.download_button("Status log (text)", lambda: status_log_text(state),
                           file_name="status-log.txt", mime="text/plain",
                           disabled=not state.log, key="dl_log", on_click="ignore")
        upload = st.file_uploader("Import a manifest (CSV or JSON) as a new batch",
                                  key="manifest_upload")  # any name: the content decides
        if upload is not None and st.button("Import as new batch", key="import_manifest"):
            out = keep(services.import_manifest(rt, ws(), upload.name, upload.getvalue()),
                       "import")
            if out.ws.state.inputs.parsed_text != state.inputs.parsed_text:
                st.session_state["_widgets_restored"] = False
                st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
                st.rerun()
        show_notices("import")


def finished_toast() -> None:
    """A toast when paid work finished since the last run (wherever the person looks); held
    while a paid dialog is open, where it would cover the dialog's ✕ for ten seconds."""
    if st.session_state.get(ASK_KEY) is not None:
        return
    message = st.session_state.pop(TOAST_KEY, "")
    if message:
        st.toast(plain(message), icon=":material/task_alt:", duration="long")
