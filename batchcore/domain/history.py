"""The History page's numbers, derived from saved workspaces (pure: states in, rows out)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from batchcore.domain.pricing import format_money
from batchcore.domain.spend import as_utc, counted_amount, utc_day
from batchcore.domain.workflow import WorkflowState, all_submissions

__all__ = ["batch_history", "spend_per_day", "spend_totals"]


def batch_history(states: Mapping[str, WorkflowState]) -> list[dict[str, Any]]:
    """One record per paid submission across workspaces, newest first."""
    out: list[dict[str, Any]] = []
    for wid, state in states.items():
        for sub in all_submissions(state):
            receipt = state.receipts.get(sub.batch_hash)
            rows = len(receipt.rows) if receipt else len(
                [v for v in state.videos.values() if v.batch_hash == sub.batch_hash])
            images = sub.produced if sub.produced is not None else sum(
                1 for imgs in state.images.values() for i in imgs
                if sub.batch_id and i.batch_id == sub.batch_id)
            out.append({
                "workspace": wid,
                "time": sub.started_at,
                "kind": sub.kind,
                "batch": sub.batch_id or sub.batch_hash[:12],
                "rows": rows,
                "images": images if sub.kind == "images" else 0,
                "estimated": format_money(sub.cost),
                "actual": "" if sub.actual_cost is None else format_money(sub.actual_cost),
                "outcome": sub.state,
                "note": sub.message,
            })
    out.sort(key=lambda r: as_utc(r["time"]), reverse=True)
    return out


def spend_per_day(states: Mapping[str, WorkflowState]) -> dict[str, Decimal]:
    """Money per UTC day across workspaces, each submission counted as the spend cap counts
    it (:func:`~batchcore.domain.spend.counted_amount`): what may have been billed counts."""
    days: dict[str, Decimal] = defaultdict(Decimal)
    for state in states.values():
        for sub in all_submissions(state):
            days[utc_day(sub.started_at)] += counted_amount(sub)
    return dict(sorted(days.items()))


def spend_totals(per_day: Mapping[str, Decimal], today: date) -> dict[str, Decimal]:
    """Today's, the last seven days' (today included) and all-time spend from ``spend_per_day``."""
    week = {(today - timedelta(days=n)).isoformat() for n in range(7)}
    return {
        "today": per_day.get(today.isoformat(), Decimal(0)),
        "week": sum((v for d, v in per_day.items() if d in week), Decimal(0)),
        "total": sum(per_day.values(), Decimal(0)),
    }


def recent_batches(states: Mapping[str, WorkflowState], limit: int = 8) -> list[tuple[str, str]]:
    """Batches dry-run before, newest first, as (label, batch text) to load back in one
    click; the same text is offered once. Labels and texts are plain text."""
    from batchcore.domain.rows import format_batch

    receipts = sorted((r for s in states.values() for r in s.receipts.values() if r.rows),
                      key=lambda r: r.created_at, reverse=True)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for receipt in receipts:
        rows = [row.model_copy(update={"ref_urls": ()}) for row in receipt.rows]
        text = format_batch(rows)
        if text in seen:
            continue
        seen.add(text)
        first = rows[0]
        more = f" and {len(rows) - 1} more row(s)" if len(rows) > 1 else ""
        label = (f"{receipt.created_at:%Y-%m-%d %H:%M} UTC — {first.scene_id}: "
                 f"{first.prompt[:60]}{'…' if len(first.prompt) > 60 else ''}{more}")
        out.append((label, text))
        if len(out) >= limit:
            break
    return out
