"""The drop zone and the attached references agree (pure).

Every file dropped on the page is checked and sent in the run that receives it; then the
drop zone is replaced by a new, empty one (the next *turn*), so the browser and Streamlit
stop holding the files' bytes (six 9 MB references would otherwise stay in the server's
memory for the rest of the session) and the drop zone never shows a file that is not what
was attached. A reference is removed with its chip's Remove button; what is sent is what
the chips show.
"""

from __future__ import annotations

__all__ = ["drop_zone_key"]


def drop_zone_key(turn: int) -> str:
    """The drop zone's widget key for ``turn`` (0: ``uploader``, then ``uploader_1``, …).

    A new key is a new, empty widget: Streamlit forgets the previous one's files."""
    turn = max(0, int(turn))
    return "uploader" if turn == 0 else f"uploader_{turn}"
