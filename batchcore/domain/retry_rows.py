"""Retry the failed rows of a generated batch, as a NEW batch with its own dry-run.

The rows to retry are put into Batch mode as text; nothing is sent. Because they are a
new draft, the live gate asks for a fresh dry-run and confirmation as for any batch (and
if every row failed, the old receipt was consumed, so a new dry-run is still required).

A scene that failed but still has images is not retried blindly, since those images
were (probably) paid for:

* all of its variants came back -> never retried (nothing is missing);
* some came back (a partial scene) -> skipped by default, so the person can approve one
  of them; with ``include_partial=True`` it is retried for the *missing* variants only;
* none came back (the job failed, or the server rejected the prompt) -> retried with its
  original variants. Its error is kept so the page can show it (a rejected prompt
  usually needs editing first), and ``annotate=True`` writes it as a ``#`` comment line
  above the row, which the batch parser ignores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from batchcore.domain.rows import BatchRow, format_batch

__all__ = ["RetryPlan", "RetryRow", "SkippedScene", "failed_rows", "plan_retry", "retry_batch_text"]

Failures = Mapping[str, str] | Iterable[str]
ImageCounts = Mapping[str, Sequence[object] | int]


class RetryRow(BaseModel):
    """A row to generate again, the error it failed with, and how many images it kept."""

    model_config = ConfigDict(frozen=True)

    row: BatchRow
    error: str = ""
    images_kept: int = 0


class SkippedScene(BaseModel):
    """A failed scene that is not retried, and why (a sentence a person understands)."""

    model_config = ConfigDict(frozen=True)

    scene_id: str
    reason: str
    error: str = ""


class RetryPlan(BaseModel):
    """What to retry (in the batch's row order), what not, and failures of unknown scenes."""

    model_config = ConfigDict(frozen=True)

    retry: tuple[RetryRow, ...] = ()
    skipped: tuple[SkippedScene, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def rows(self) -> list[BatchRow]:
        return [r.row for r in self.retry]


def _errors(failures: Failures) -> dict[str, str]:
    if isinstance(failures, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in failures.items()}
    if isinstance(failures, str):  # one scene id, not its characters
        return {failures: ""}
    return {str(k): "" for k in failures}


def _count(images: ImageCounts | None, scene_id: str) -> int:
    if not images:
        return 0
    value = images.get(scene_id, 0)
    return value if isinstance(value, int) else len(value)


def plan_retry(
    rows: Sequence[BatchRow],
    failures: Failures,
    images: ImageCounts | None = None,
    *,
    include_partial: bool = False,
) -> RetryPlan:
    """Decide which failed scenes of ``rows`` to generate again.

    ``failures`` maps failed scene ids to their error messages (or is just the ids);
    ``images`` gives each scene's images that did come back (a list, or a count), e.g.
    ``state.images``.
    """
    errors = _errors(failures)
    retry: list[RetryRow] = []
    skipped: list[SkippedScene] = []
    for row in rows:
        if row.scene_id not in errors:
            continue
        error = errors[row.scene_id]
        kept = _count(images, row.scene_id)
        if kept >= row.variants:
            skipped.append(SkippedScene(
                scene_id=row.scene_id, error=error,
                reason=f"All {row.variants} image{'s' if row.variants != 1 else ''} of "
                       f"{row.scene_id} came back, so it is not generated again."))
        elif kept and not include_partial:
            skipped.append(SkippedScene(
                scene_id=row.scene_id, error=error,
                reason=f"{kept} of {row.variants} images of {row.scene_id} came back; approve "
                       f"one of them, or include partial scenes to generate the missing "
                       f"{row.variants - kept}."))
        else:
            retry.append(RetryRow(row=row.model_copy(update={"variants": row.variants - kept}),
                                  error=error, images_kept=kept))
    known = {row.scene_id for row in rows}
    unknown = tuple(s for s in errors if s not in known)
    return RetryPlan(retry=tuple(retry), skipped=tuple(skipped), unknown=unknown)


def failed_rows(
    rows: Sequence[BatchRow],
    failures: Failures,
    images: ImageCounts | None = None,
    *,
    include_partial: bool = False,
) -> list[BatchRow]:
    """The rows to retry, in the batch's order (see :func:`plan_retry` for the rules)."""
    return plan_retry(rows, failures, images, include_partial=include_partial).rows


def retry_batch_text(
    rows: Sequence[BatchRow],
    failures: Failures,
    images: ImageCounts | None = None,
    *,
    include_partial: bool = False,
    annotate: bool = False,
) -> str:
    """Batch text of just the rows to retry, for Batch mode (a new batch, new dry-run).

    With ``annotate``, each row is preceded by a ``# <scene_id> failed: <error>`` comment
    (ignored by ``parse_batch``), so the person sees why it failed while editing.
    """
    plan = plan_retry(rows, failures, images, include_partial=include_partial)
    if not annotate:
        return format_batch(plan.rows)
    lines: list[str] = []
    for item in plan.retry:
        why = " ".join(item.error.split()) or "no reason given"
        lines.append(f"# {item.row.scene_id} failed: {why}")
        lines.append(format_batch([item.row]))
    return "\n".join(lines)
