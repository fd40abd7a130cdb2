"""History: past batches across workspaces, spend per day, and a way back into each."""

from datetime import datetime, timezone

import pandas as pd
import streamlit as st

from batchcore.domain.history import batch_history, spend_per_day, spend_totals
from batchcore.domain.plaintext import plain
from batchcore.domain.pricing import format_money
from batchcore.service_layer import services
from studio import auth
from studio.runtime import runtime

st.title("History")
rt = runtime()
view = services.history(rt, auth.owner())
if view.problem:
    st.error(plain(view.problem))
    st.stop()
summaries, states = view.summaries, view.states
if rt.settings.use_mock:
    st.caption("Mock mode: these amounts were spent on the built-in emulator, not real money.")

st.subheader("Spend per day (UTC)")
per_day = spend_per_day(states)
totals = spend_totals(per_day, datetime.now(timezone.utc).date())
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
if records:
    st.dataframe(
        pd.DataFrame(records), hide_index=True, width="stretch",
        column_order=("time", "kind", "rows", "images", "estimated", "actual", "outcome",
                      "note", "batch", "workspace"),
        column_config={"time": st.column_config.DatetimeColumn("time", format="YYYY-MM-DD HH:mm")},
    )
else:
    st.caption("No paid batch yet.")

st.subheader("Workspaces")
if summaries:
    st.dataframe(
        pd.DataFrame([{
            "open": f"/?w={s.workspace_id}", "updated": s.updated_at, "rows": s.rows,
            "images": s.images, "paid calls": s.submissions, "spent": format_money(s.spent),
            "problem": s.problem or "",
        } for s in summaries]),
        hide_index=True, width="stretch",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
    )
else:
    st.caption("No workspace yet.")
