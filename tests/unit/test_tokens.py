"""Capability tokens (batchcore.domain.tokens): signed, bound to what they open, expiring."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.tokens import TOKEN_LIFETIME, check, sign

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_token_opens_exactly_what_it_was_signed_for():
    """Accepted for its own parts; refused for another workspace, purpose or key."""
    token = sign(KEY, "events", "ws-1", now=NOW)
    assert check(KEY, token, "events", "ws-1", now=NOW + 60) == ""
    assert "signature" in check(KEY, token, "events", "ws-2", now=NOW)
    assert "signature" in check(KEY, token, "pictures", "ws-1", now=NOW)
    assert "signature" in check(b"x" * 32, token, "events", "ws-1", now=NOW)


def test_a_token_expires_and_its_expiry_cannot_be_moved():
    """Past its lifetime it is refused; a later expiry written in by hand breaks the signature."""
    token = sign(KEY, "events", "ws-1", now=NOW)
    assert "expired" in check(KEY, token, "events", "ws-1", now=NOW + TOKEN_LIFETIME + 1)
    head, mac = token.split(".")
    moved = f"{int(head) + 3600}.{mac}"
    assert "signature" in check(KEY, moved, "events", "ws-1", now=NOW)


@given(st.text(max_size=300))
def test_any_other_text_is_refused_with_a_sentence(text):
    """Whatever is sent as a token, unless signed, is refused with a plain sentence."""
    why = check(KEY, text, "events", "ws-1", now=NOW)
    assert why and why.endswith(".")


@given(parts=st.lists(st.text(max_size=40), min_size=1, max_size=3))
def test_round_trip_for_any_parts(parts):
    """A token signed over any parts is accepted for those parts, before it expires."""
    token = sign(KEY, *parts, now=NOW)
    assert check(KEY, token, *parts, now=NOW + TOKEN_LIFETIME) == ""
    assert len(token) < 200
