"""History: past workspaces as a gallery, past batches, spend per day, and a way back."""


import pandas as pd
import streamlit as st

from batchcore.domain import clock
from batchcore.domain.history import batch_history, spend_per_day, spend_totals
from batchcore.domain.navigation import UNSTORED
from batchcore.domain.plaintext import plain
from batchcore.domain.pricing import format_money
from batchcore.service_layer import services
from studio import auth, media
from studio import nav as links
from studio.runtime import runtime
from studio.state import PAGE_KEY, WORKSPACE_KEY

rt = runtime()
st.session_state[PAGE_KEY] = "history"  # coming back to Studio is a page switch
open_id = st.session_state.get(WORKSPACE_KEY) or ""
open_id = "" if open_id == UNSTORED else open_id
if open_id and st.query_params.get("w") != open_id:
    st.query_params["w"] = open_id  # the open workspace stays in the address on this page too
with st.sidebar:
    links.link("studio", "Studio", ":material/movie:", open_id)
    links.link("history", "History", ":material/history:", open_id)

st.title("History")
view = services.history_view(rt, auth.owner())
if view.problem:
    st.warning(plain(view.problem))
    st.stop()
states = view.states
if view.mock:
    st.info("**Mock mode:** every amount on this page is mock spend on the built-in emulator "
            "— no real money.", icon=":material/science:")

st.subheader("Workspaces")
if view.cards:
    grid = st.columns(3)
    wanted = [(i.thumbnail_url, i.url) for card in view.cards[:30] for i in card.pictures]
    if media.can_link():  # each workspace's pictures by links signed for that workspace
        pics: dict[tuple[str, ...], services.Picture] = {}
        for card in view.cards[:30]:
            owner = states[card.workspace_id].owner if card.workspace_id in states else ""
            pics.update(media.pictures(rt, [(i.thumbnail_url, i.url) for i in card.pictures],
                                       of=services.Linking(card.workspace_id, owner)))
    else:  # fetched at once, off the script thread
        pics = media.pictures(rt, wanted)
    for i, card in enumerate(view.cards[:30]):
        with grid[i % 3].container(border=True):
            st.markdown(f"**{plain(card.name)}**")
            if card.pictures:  # 128 px thumbnails in a row, never stretched
                row = st.columns(len(card.pictures))
                for col, image in zip(row, card.pictures):
                    with col:
                        media.draw(pics[media.key_of((image.thumbnail_url, image.url))],
                                   width=72, missing="")
            st.caption(plain(
                f"{card.images} images, {card.approved} approved, {card.batches} paid "
                f"call(s), {card.spent_text} — changed {card.updated_at:%Y-%m-%d %H:%M} UTC"))
            links.link("studio", "Open" if card.workspace_id != open_id else "Open (current)",
                       ":material/open_in_browser:", card.workspace_id)
    media.redraw_when_loaded(rt, wanted, pics)
else:
    st.caption("No workspace yet.")

st.subheader("Spend per day (UTC)" + (" — mock" if view.mock else ""))
per_day = spend_per_day(states)
totals = spend_totals(per_day, clock.utcnow().date())
spent = st.columns(3)
spent[0].metric("Today", format_money(totals["today"]))
spent[1].metric("Last 7 days", format_money(totals["week"]))
spent[2].metric("All time (listed workspaces)", format_money(totals["total"]))
if per_day:
    st.bar_chart(pd.DataFrame({"day": list(per_day), "dollars": [float(v) for v in per_day.values()]}),
                 x="day", y="dollars")
else:
    st.caption("Nothing has been spent yet.")

st.subheader("Batches")
records = batch_history(states)
names = {c.workspace_id: c.name for c in view.cards}
if records:
    st.dataframe(
        pd.DataFrame([{**r, "workspace": names.get(r["workspace"], r["workspace"])}
                      for r in records]),
        hide_index=True, width="stretch",
        column_order=("time", "kind", "rows", "images", "estimated", "actual", "outcome",
                      "note", "batch", "workspace"),
        column_config={"time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm")},
    )
else:
    st.caption("No paid batch yet.")

if view.cards:
    with st.expander("All workspaces as a table"):
        st.dataframe(
            pd.DataFrame([{
                "name": c.name, "updated": c.updated_at, "images": c.images,
                "approved": c.approved, "paid calls": c.batches, "spent": format_money(c.spent),
                "id": c.workspace_id,
            } for c in view.cards]),
            hide_index=True, width="stretch",
        )
