"""Which paid dialog may be on screen (batchcore.domain.paid_steps): only one just asked for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.paid_steps import Ask, ask_images, ask_videos, standing

HASH = "a" * 64


def test_no_ask_opens_nothing():
    """Without a click on the step's button no dialog is drawn, whatever the gates say."""
    assert standing(None, allowed=True, batch_hash=HASH) is None


def test_an_image_ask_stands_for_its_own_batch_while_allowed():
    """The image confirmation stays open for the batch priced when asked, while Generate is allowed."""
    ask = ask_images(HASH)
    assert standing(ask, allowed=True, batch_hash=HASH) == ask


def test_an_image_ask_lapses_when_the_batch_changes_or_the_gate_closes():
    """Another batch hash, or Generate Images off (sent, in flight, over the cap), ends the ask."""
    ask = ask_images(HASH)
    assert standing(ask, allowed=True, batch_hash="b" * 64) is None
    assert standing(ask, allowed=False, batch_hash=HASH) is None


def test_a_video_ask_stands_only_while_generate_video_is_allowed():
    """The video dialog stays open while Generate Video is allowed, and closes when it is not."""
    assert standing(ask_videos(), allowed=True) == Ask("videos")
    assert standing(ask_videos(), allowed=False) is None


@given(asked=st.text(max_size=64), now=st.text(max_size=64), allowed=st.booleans())
def test_an_image_ask_stands_only_for_exactly_its_hash(asked, now, allowed):
    """For any hashes, an image ask stands iff the gate allows and the hash is the one asked for."""
    kept = standing(ask_images(asked), allowed=allowed, batch_hash=now)
    assert (kept is not None) == (allowed and asked == now)
