"""Workflow states for tests, built only through the public workflow functions.

One place for the builders test files used to copy: a drafted batch, its dry-run receipt,
a paid submission, its images.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from batchcore.domain.rows import BatchRow, ParseResult, parse_batch
from batchcore.domain.workflow import (
    GeneratedImage,
    Mode,
    WorkflowState,
    begin_image_submission,
    current_hash,
    finish_submission,
    make_receipt,
    record_dry_run,
    record_images,
    with_draft,
)


def drafted(rows: str | Sequence[BatchRow], mode: Mode = "batch",
            state: WorkflowState | None = None) -> WorkflowState:
    """``rows`` (batch text, or rows) as the draft of ``state`` (default: a new workspace)."""
    parsed = parse_batch(rows) if isinstance(rows, str) else ParseResult(rows=list(rows))
    return with_draft(state or WorkflowState(), mode, parsed)


def dry_ran(state: WorkflowState, now: datetime, **receipt: object) -> WorkflowState:
    """The draft's dry-run receipt, made at ``now``, recorded."""
    made = make_receipt(state.draft.mode, state.draft.rows, now=now, **receipt)  # type: ignore[arg-type]
    return record_dry_run(state, made)


def submitted(state: WorkflowState, now: datetime, **begin: object) -> tuple[WorkflowState, str]:
    """The draft (already dry-run) confirmed at ``now``: its submission reserved."""
    hash_ = current_hash(state, now)
    state, _ = begin_image_submission(state, hash_, now, **begin)  # type: ignore[arg-type]
    return state, hash_


def images_of(rows: Iterable[BatchRow], *, batch_id: str = "batch-1",
              base: str = "https://img.test", per_scene: int | None = None,
              prompts: bool = True) -> list[GeneratedImage]:
    """One image per variant of each row (or ``per_scene`` each), with predictable URLs."""
    return [
        GeneratedImage(scene_id=row.scene_id, variant=v, url=f"{base}/{row.scene_id}/{v}.png",
                       thumbnail_url=f"{base}/{row.scene_id}/{v}_t.png",
                       job_id=f"job-{row.scene_id}-{v}", batch_id=batch_id,
                       prompt=row.prompt if prompts else "")
        for row in rows for v in range(1, (per_scene or row.variants) + 1)
    ]


def generated(state: WorkflowState, now: datetime, finished: datetime, *,
              batch_id: str = "batch-1", **images: object) -> tuple[WorkflowState, str]:
    """The draft dry-run at ``now``, confirmed, completed at ``finished`` with its images."""
    state, hash_ = submitted(dry_ran(state, now), now)
    rows = state.draft.rows
    made = images_of(rows, batch_id=batch_id, **images)  # type: ignore[arg-type]
    state = finish_submission(state, hash_, "completed", batch_id=batch_id,
                              actual_cost=Decimal("0.002") * len(made), now=finished)
    return record_images(state, made), hash_
