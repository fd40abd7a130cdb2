"""What the picture route may serve, and how (batchcore.domain.picture_links)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.picture_links import (
    ByteRange,
    byte_range,
    etag_of,
    is_object_id,
    matches_etag,
    media_type,
    object_id,
    workspace_objects,
)
from batchcore.domain.workflow import GeneratedImage, Reference, VideoClip, WorkflowState


def _state() -> WorkflowState:
    images = {"S-1": (GeneratedImage(scene_id="S-1", variant=1, url="mock://i/1.png",
                                     thumbnail_url="mock://t/1.png"),
                      GeneratedImage(scene_id="S-1", variant=2, url="mock://i/2.png"))}
    refs = (Reference(name="hero <b>.jpg", url="mock://r/1.jpg", thumbnail_url=""),)
    clips = {"S-1": VideoClip(scene_id="S-1", url="mock://v/1.mp4", status="done")}
    return WorkflowState(images=images, references=refs, videos=clips)


def test_every_address_the_workspace_holds_is_an_object_and_nothing_else():
    """Images, thumbnails, references and clips, each under its own id; empty ones skipped."""
    objects = workspace_objects(_state())
    assert {o.url for o in objects.values()} == {
        "mock://i/1.png", "mock://t/1.png", "mock://i/2.png", "mock://r/1.jpg", "mock://v/1.mp4"}
    assert all(oid == object_id(o.url) and is_object_id(oid) for oid, o in objects.items())
    assert objects[object_id("mock://i/2.png")].name == "S-1_v2"
    assert objects[object_id("mock://r/1.jpg")].name == "hero__b_"
    assert workspace_objects(WorkflowState()) == {}


@given(st.text(max_size=80))
def test_only_32_hex_digits_are_an_object_id(text):
    """Anything from a URL that is not exactly 32 lower-case hex digits is not an id."""
    assert is_object_id(text) == (len(text) == 32 and all(c in "0123456789abcdef" for c in text))


def test_the_type_comes_from_the_bytes_not_the_name():
    """PNG, JPEG, WebP, GIF, MP4, WebM by their magic; anything else is opaque bytes."""
    assert media_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert media_type(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert media_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert media_type(b"GIF89a") == "image/gif"
    assert media_type(b"\0\0\0\x18ftypmp42") == "video/mp4"
    assert media_type(b"\x1aE\xdf\xa3") == "video/webm"
    assert media_type(b"<svg onload=alert(1)>") == "application/octet-stream"


def test_etags_name_the_bytes_and_if_none_match_understands_lists_and_weak_tags():
    """Same bytes, same tag; a list, W/ or * matches; another tag does not."""
    tag = etag_of(b"abc")
    assert tag == etag_of(b"abc") != etag_of(b"abd")
    assert matches_etag(tag, tag) and matches_etag(f"W/{tag}", tag)
    assert matches_etag(f'"x", {tag}', tag) and matches_etag("*", tag)
    assert not matches_etag('"x"', tag) and not matches_etag("", tag)


def test_ranges_as_the_rfc_reads_them():
    """One range, an open end, a suffix; past the end unsatisfiable; other forms: the whole."""
    assert byte_range("bytes=0-99", 1000) == ByteRange(0, 99, 1000)
    assert byte_range("bytes=900-", 1000) == ByteRange(900, 999, 1000)
    assert byte_range("bytes=-10", 1000) == ByteRange(990, 999, 1000)
    assert byte_range("bytes=-5000", 1000) == ByteRange(0, 999, 1000)
    assert byte_range("bytes=0-5000", 1000) == ByteRange(0, 999, 1000)
    assert byte_range("bytes=1000-", 1000) == "unsatisfiable"
    assert byte_range("bytes=-0", 1000) == "unsatisfiable"
    for whole in ("", "items=0-1", "bytes=0-1,5-6", "bytes=5-2", "bytes=-", "bytes=a-b"):
        assert byte_range(whole, 1000) is None, whole


@given(st.text(max_size=40), st.integers(min_value=0, max_value=10**9))
def test_any_range_header_gives_bytes_inside_the_entity(header, size):
    """Whatever the header says, an answered range lies within the entity and is not empty."""
    part = byte_range(header, size)
    if isinstance(part, ByteRange):
        assert 0 <= part.start <= part.end < size and part.size == size


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
       st.integers(min_value=1, max_value=10**6))
def test_a_well_formed_range_is_answered_or_said_unsatisfiable(first, last, size):
    """bytes=a-b within a non-empty entity: a range, the whole (b < a), or unsatisfiable."""
    part = byte_range(f"bytes={first}-{last}", size)
    if first >= size:
        assert part == "unsatisfiable"
    elif last < first:
        assert part is None
    else:
        assert part == ByteRange(first, min(last, size - 1), size)
