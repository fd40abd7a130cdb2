"""The drop zone and the attached references agree (pure).

A person removes a reference either with its Remove button or with the drop zone's ×. The
page remembers which dropped file became which reference (by the file's SHA-256); a file
that was dropped in this session and is no longer in the drop zone is detached, so what is
sent is what is shown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from batchcore.domain.workflow import Reference

__all__ = ["file_digest", "vanished_references"]


def file_digest(data: bytes) -> str:
    """The SHA-256 a checked reference records for these bytes."""
    return hashlib.sha256(data).hexdigest()


def vanished_references(references: Iterable[Reference], dropped: Mapping[str, str],
                        present: Iterable[str]) -> list[str]:
    """URLs of references to detach: those whose file (``dropped``: file id → SHA-256) was
    removed from the drop zone (not among ``present`` file ids) and is not still there
    under another file id. References restored from a saved workspace (never dropped in
    this session) are left alone."""
    here = set(present)
    kept = {sha for fid, sha in dropped.items() if fid in here}
    gone = {sha for fid, sha in dropped.items() if fid not in here} - kept
    return [r.url for r in references if r.sha256 and r.sha256 in gone]
