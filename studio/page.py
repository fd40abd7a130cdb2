"""The single page, top to bottom: upload, prompts, actions, thumbnails, video, status log.

Shell code only: it draws widgets and calls batchcore, which makes every decision.
Prompts, file names and server messages are always drawn as plain text (``st.text``,
``st.code``, dataframes), never as markdown or HTML.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from batchcore import (
    MAX_ROWS,
    MAX_VARIANTS,
    PRICE_PER_IMAGE,
    VIDEO_PRICES,
    ParseResult,
    current_hash,
    describe_receipt,
    format_money,
    image_cost,
    in_flight,
    parse_batch,
    parse_single,
    render_log,
    rows_from_records,
    video_confirmation_ok,
)
from batchcore import generation as gen
from batchcore.service_layer import services
from batchcore.service_layer.services import Notice
from batchcore.workflow import Inputs, WorkflowState, unfetched

from . import media
from .runtime import Runtime
from .state import current, dismiss, keep, notices, ws
from batchcore.grid import apply_grid_edits, empty_parse_note
from batchcore.plaintext import plain
from batchcore.rows import prompt_length_note

MODES = ["Single", "Batch"]
GRID_COLUMNS = ["scene_id", "prompt", "variants"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


_DRAW = {"error": st.error, "warning": st.warning, "info": st.info, "success": st.success}


def show_notices(section: str) -> None:
    """What the services said in this section; it stays until the person dismisses it."""
    items: list[Notice] = notices(section)
    for n in items:
        _DRAW[n.level](plain(n.text))
    if items and any(n.level in ("error", "warning") for n in items):
        if st.button("Dismiss", key=f"dismiss_{section}"):
            dismiss(section)
            st.rerun()


# --- header -------------------------------------------------------------------------------


def header(rt: Runtime) -> None:
    st.title("Batch Studio")
    st.caption("Batch image and video generation with no accidental cost: dry-run first, "
               "confirm every paid step.")
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
        if not rt.settings.use_mock:
            st.caption("Everyone who can open this app spends from one shared daily cap. "
                       "Protect a shared deployment with sign-in or the host's viewer "
                       "allow-list (see the README).")


# --- 1. upload zone ---------------------------------------------------------------------


def upload_zone(rt: Runtime) -> None:
    st.header("1. Reference images")
    state = current()
    files = st.file_uploader(
        "Drop JPG or PNG reference images (at most 6, 10 MB each)",
        # No type filter: Streamlit would raise on a name it dislikes (a NUL, another
        # extension); batchcore checks every file's bytes and says why one is refused.
        accept_multiple_files=True, key="uploader",
    ) or []
    done: set[str] = st.session_state.setdefault("uploaded_file_ids", set())
    fresh = [f for f in files if f.file_id not in done]
    if fresh:
        with st.spinner("Checking and uploading…"):
            out = keep(services.add_references(rt, ws(), [(f.name, f.getvalue()) for f in fresh]),
                       "upload")
        done.update(f.file_id for f in fresh)
        state = out.ws.state
    show_notices("upload")
    if state.references:
        st.caption(f"{len(state.references)} reference image(s), attached to every row:")
        cols = st.columns(min(len(state.references), 6))
        for i, ref in enumerate(state.references):  # a 7th (an old workspace) wraps, not vanishes
            with cols[i % len(cols)]:
                media.reference_chip(rt, ref)
                st.text(ref.name)
                if st.button("Remove", key=f"rm_ref_{i}_{ref.sha256[:8]}",
                             help=f"Remove reference {i + 1}"):
                    keep(services.remove_reference(rt, ws(), ref.url), "upload")
                    st.rerun()


# --- 2. prompts -------------------------------------------------------------------------


def _restore_widgets(inputs: Inputs) -> None:
    """Give the widgets the saved inputs once per session (refresh restores the page)."""
    if st.session_state.get("_widgets_restored"):
        return
    st.session_state["_widgets_restored"] = True
    st.session_state["mode"] = "Single" if inputs.mode == "single" else "Batch"
    st.session_state["batch_text"] = inputs.batch_text
    st.session_state["single_prompt"] = inputs.single_prompt
    st.session_state["single_variants"] = inputs.single_variants
    st.session_state["single_scene"] = inputs.single_scene_id


def prompts(rt: Runtime) -> None:
    st.header("2. Prompts")
    state = current()
    _restore_widgets(state.inputs)
    choice = st.radio("Mode", MODES, key="mode", horizontal=True)
    mode = "single" if choice == "Single" else "batch"
    inputs = state.inputs.model_copy(update={"mode": mode})

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
            result = parse_batch(text)
            inputs = inputs.model_copy(update={
                "parsed_text": text,
                "grid": tuple({"scene_id": r.scene_id, "prompt": r.prompt, "variants": r.variants}
                              for r in result.rows),
            })
            st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
        parsed, stale = _batch_draft(rt, inputs)

    state = keep(services.update_inputs(rt, ws(), inputs, parsed), "prompts").ws.state
    show_notices("prompts")
    _preview(state, parsed, stale)


def _batch_draft(rt: Runtime, inputs: Inputs) -> tuple[ParseResult, bool]:
    """The batch draft: the parsed text's rows as edited in the grid, and its errors."""
    if inputs.parsed_text is None:
        return ParseResult(), False
    text_result = parse_batch(inputs.parsed_text)
    stale = inputs.parsed_text != inputs.batch_text
    if text_result.errors:
        st.error(f"{len(text_result.errors)} line(s) need fixing — nothing is sent until they are:")
        # a dataframe shows each cell as plain text
        st.dataframe(pd.DataFrame([{"line": e.line, "problem": e.message, "text": e.text}
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
    stale = state.inputs.mode == "batch" and state.inputs.parsed_text is not None \
        and state.inputs.parsed_text != state.inputs.batch_text
    cost = image_cost(state.draft.rows)

    can_dry = bool(state.draft.rows) and not state.draft.errors and not stale
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        dry = st.button("Dry-Run Images", key="dry_run", disabled=not can_dry,
                        width="stretch")
    with c2:
        gen_click = st.button("Generate Images", key="generate", type="primary",
                              disabled=not gate, width="stretch")
    with c3:
        if not gate:
            st.caption(f"Generate Images is off: {plain(gate.reason)}")
        else:
            st.caption(f"Ready: {len(state.draft.rows)} rows, "
                       f"{sum(r.variants for r in state.draft.rows)} images, "
                       f"{format_money(cost)}. You will confirm before anything is spent.")
    if dry:
        dismiss("actions")
        with st.spinner("Dry-run…"):
            note = st.empty()  # "the server is busy — retrying in N s" while it waits
            keep(services.dry_run(rt, ws(), now, on_wait=lambda text: note.info(plain(text))),
                 "actions")
        st.rerun()
    if gen_click and gate:
        st.session_state["confirm_images"] = hash_
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
    if st.session_state.get("confirm_images") == hash_:
        confirm_images(rt, hash_)


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


@st.dialog("Confirm paid image generation")
def confirm_images(rt: Runtime, hash_: str) -> None:
    state = current()
    rows = state.draft.rows
    receipt = state.receipts.get(hash_)
    if receipt is None:
        st.error("The dry-run for this batch is gone; run Dry-Run Images again.")
        return
    st.write(f"This sends **{len(rows)} rows** for live generation: "
             f"**{receipt.images} images** for **{plain(format_money(receipt.estimated_cost))}**.")
    st.dataframe(pd.DataFrame([{"scene_id": r.scene_id, "variants": r.variants,
                                "cost": format_money(PRICE_PER_IMAGE * r.variants)}
                               for r in rows]), hide_index=True, width="stretch")
    if not rt.settings.use_mock:
        st.warning("This is the real backend: it will be billed.", icon=":material/payments:")
    c1, c2 = st.columns(2)
    if c1.button(f"Confirm — spend {format_money(receipt.estimated_cost)}", type="primary",
                 key="confirm_images_go"):
        st.session_state.pop("confirm_images", None)
        dismiss("actions")
        keep(services.confirm_images(rt, ws(), hash_), "actions")
        st.rerun()
    if c2.button("Cancel", key="confirm_images_cancel"):
        st.session_state.pop("confirm_images", None)
        st.rerun()


# --- thumbnails and approvals -----------------------------------------------------------


def thumbnails(rt: Runtime) -> None:
    state = current()
    retry_failed(rt)
    if not state.images:
        return
    st.header("4. Approve one image per scene")
    wanted = [(i.thumbnail_url or i.url, i.url) for imgs in state.images.values() for i in imgs]
    pics = media.pictures(rt, wanted)  # fetched all at once, off the script thread
    for scene, images in state.images.items():
        approved = state.approvals.get(scene)
        st.markdown(f"**{plain(scene)}**")
        if images and images[0].prompt:
            st.text(images[0].prompt)
        cols = st.columns(max(len(images), 3))
        for col, image in zip(cols, images):
            with col:
                is_pick = approved is not None and approved.image == image
                key = tuple(u for u in (image.thumbnail_url or image.url, image.url) if u)
                media.draw(pics[key], width=240,
                           missing=f"#{image.variant}: the image could not be loaded.")
                label = f"Approve {plain(scene)} #{image.variant}"
                if st.button(label, key=f"approve_{scene}_{image.variant}",
                             type="primary" if is_pick else "secondary",
                             width="stretch"):
                    keep(services.approve_image(rt, ws(), scene, image.variant), "approve")
                    st.rerun()
                if is_pick:
                    st.markdown("**✓ Approved**")
    media.redraw_when_loaded(rt, wanted)
    show_notices("approve")


# --- video --------------------------------------------------------------------------------


def video(rt: Runtime) -> None:
    state = current()
    if state.approvals:
        st.header("5. Video")
        n = len(state.approvals)
        st.caption(f"{n} approved scene{'s' if n != 1 else ''}: one 8-second clip each.")
        gate = services.video_gate(rt, ws())
        if st.button("Generate Video", key="generate_video", disabled=not gate):
            st.session_state["video_dialog"] = True
        if not gate:
            st.caption(plain(gate.reason))
        show_notices("video")
        if st.session_state.get("video_dialog"):
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


@st.dialog("Generate video", width="large")
def video_dialog(rt: Runtime) -> None:
    state = current()
    c1, c2, c3 = st.columns(3)
    models = list(VIDEO_PRICES)
    model = c1.radio("Model", models, index=models.index("veo3_fast"), key="video_model",
                     format_func=lambda m: f"{m} ({format_money(VIDEO_PRICES[m])}/clip)")
    aspect = c2.radio("Aspect", ["16:9", "9:16"], key="video_aspect")
    resolution = c3.radio("Resolution", [720, 1080], key="video_resolution")
    plan = gen.plan_videos(state, model, aspect, resolution)
    variants = {a.image.scene_id: a.image.variant for a in state.approvals.values()}
    st.dataframe(pd.DataFrame([{"scene_id": i.scene_id,
                                "approved image": f"#{variants.get(i.scene_id, '?')}",
                                "model": i.veo_model, "aspect": i.aspect,
                                "resolution": f"{i.resolution}p", "seconds": i.duration_s,
                                "cost": format_money(VIDEO_PRICES[i.veo_model])}
                               for i in plan.items]), hide_index=True, width="stretch")
    st.write(f"**{plan.clips} clip{'s' if plan.clips != 1 else ''}** × "
             f"{plain(format_money(VIDEO_PRICES[model]))} = **{plain(format_money(plan.cost))}**")
    typed = st.text_input(f"Type the number of clips ({plan.clips}) to confirm",
                          key="video_typed")
    ok = video_confirmation_ok(typed, plan.clips)
    if typed.strip() and not ok:
        st.error(plain(f"Type exactly {plan.clips} to confirm; you typed {typed.strip()!r}."))
    spend = services.spend_view(rt, ws())
    if not spend.allows(plan.cost):
        st.error(plain(f"This costs {format_money(plan.cost)}: more than is left under the "
                       f"daily spend cap. {spend.describe()}"))
    b1, b2 = st.columns(2)
    if b1.button(f"Confirm — spend {format_money(plan.cost)}", type="primary",
                 key="video_go", disabled=not (ok and spend.allows(plan.cost))):
        out = keep(services.confirm_videos(rt, ws(), plan, typed), "video")
        if any(n.level == "error" for n in out.notices):
            for n in out.notices:
                st.error(plain(n.text))
            return
        st.session_state.pop("video_dialog", None)
        st.session_state.pop("video_typed", None)
        st.rerun()
    if b2.button("Cancel", key="video_cancel"):
        st.session_state.pop("video_dialog", None)
        st.rerun()


# --- 6. status log ----------------------------------------------------------------------


def status_log(rt: Runtime) -> None:
    st.header("Status log")
    state = current()
    every = 1.0 if in_flight(state) else None

    @st.fragment(run_every=every)
    def live() -> None:
        before = current()
        out = keep(services.sync(rt, ws()))
        if out.changed or bool(in_flight(before)) != bool(in_flight(out.ws.state)):
            st.rerun(scope="app")
        s = out.ws.state
        for sub in in_flight(s):
            job = rt.runner.get(sub.batch_hash)
            elapsed = f"{job.elapsed:.0f} s" if job else "…"
            what = "images" if sub.kind == "images" else "videos"
            word = {"reserved": "Reserved", "sent": "Sent", "accepted": "Billed; fetching"}[sub.state]
            st.info(f"{word}: generating {what} ({format_money(sub.cost)}) — {elapsed} elapsed.",
                    icon=":material/hourglass_top:")
            if sub.progress is not None:
                st.progress(min(max(sub.progress, 0.0), 1.0))
        if s.log:
            st.code(render_log(s.log[-300:], newest_first=True), language=None,
                    wrap_lines=True, height=360 if len(s.log) > 14 else "content")
            st.caption(f"{len(s.log)} entries, newest first.")
        else:
            st.caption("Nothing has happened yet.")

    live()


# --- exports, imports and retries ---------------------------------------------------------


def retry_failed(rt: Runtime) -> None:
    """Offer a new batch of just the rows the server said failed in the last image run."""
    names = services.failed_rows(ws())
    if not names:
        return
    st.warning(plain(f"{len(names)} row(s) failed: {', '.join(names)}."))
    if st.button("Retry failed rows", key="retry_failed"):
        keep(services.retry_failed_rows(rt, ws()), "prompts")
        st.session_state["_widgets_restored"] = False
        st.session_state["grid_version"] = st.session_state.get("grid_version", 0) + 1
        st.rerun()


def exports(rt: Runtime) -> None:
    from batchcore.exports import (
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
        c1.download_button("Manifest (CSV)", "\ufeff" + manifest_csv(records),
                           file_name="batch-manifest.csv", mime="text/csv",
                           disabled=not records, key="dl_csv")
        c2.download_button("Manifest (JSON)", manifest_json(records),
                           file_name="batch-manifest.json", mime="application/json",
                           disabled=not records, key="dl_json")
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
        c4.download_button("Status log (text)", status_log_text(state),
                           file_name="status-log.txt", mime="text/plain",
                           disabled=not state.log, key="dl_log")
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
