"""The normalised response models, on literal JSON of the real and the brief's shapes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcore.domain.rows import BatchRow
from batchcore.errors import ResponseFormatError
from batchcore.wire.models import (
    DryRunResult,
    Health,
    ImageOut,
    JobStatus,
    LiveResult,
    StatusResult,
    UploadedRef,
    VideoBatchResult,
    VideoItem,
    counted_cost,
    generated_images,
    normalize_progress,
    normalize_status,
    parse_dry_run,
    parse_health,
    parse_live,
    parse_status,
    parse_uploads,
    parse_videos,
)

# --- literal payloads -----------------------------------------------------------------

REAL_DRY_RUN = json.loads("""
{"batchId": "batch_1718000000_0123456789ab", "runMode": "dry_run", "estimatedCost": 0.010000000000000002,
 "message": "Dry run completed. Would generate 5 images.",
 "items": [{"scene_id": "SCENE-001", "variants": 2, "estimatedCost": 0.004},
           {"scene_id": "SCENE-002", "variants": 3, "estimatedCost": 0.006}]}
""")

REAL_LIVE = json.loads("""
{"batchId": "batch_1718000000_0123456789ab", "runMode": "live", "estimatedCost": 0.01,
 "actualCost": 0.008, "accepted": 2, "rejected": [],
 "jobs": [{"jobId": "batch_1718000000_0123456789ab_SCENE-001_0", "sceneId": "SCENE-001", "status": "completed"},
          {"jobId": "batch_1718000000_0123456789ab_SCENE-002_1", "sceneId": "SCENE-002", "status": "completed"}],
 "results": [
   {"sceneId": "SCENE-001", "images": [
      {"gcsUri": "gs://b/1a.png", "signedUrl": "https://storage.example/1a.png?sig=1", "thumbnailUrl": "https://storage.example/1a_t.png"},
      {"gcsUri": "gs://b/1b.png", "signedUrl": "https://storage.example/1b.png?sig=1", "thumbnailUrl": "https://storage.example/1b_t.png"}]},
   {"sceneId": "SCENE-002", "images": [
      {"gcsUri": "gs://b/2a.png", "signedUrl": "https://storage.example/2a.png", "thumbnailUrl": "https://storage.example/2a_t.png"},
      {"gcsUri": "gs://b/2b.png", "signedUrl": "https://storage.example/2b.png", "thumbnailUrl": "https://storage.example/2b_t.png"},
      {"gcsUri": "gs://b/2c.png", "signedUrl": "https://storage.example/2c.png", "thumbnailUrl": "https://storage.example/2c_t.png"}]}]}
""")

REAL_LIVE_PARTIAL = json.loads("""
{"batchId": "batch_1_abc", "runMode": "live", "estimatedCost": 0.01, "actualCost": 0.004, "accepted": 1,
 "rejected": ["SCENE-003"],
 "jobs": [{"jobId": "batch_1_abc_SCENE-001_0", "sceneId": "SCENE-001", "status": "completed"},
          {"jobId": "batch_1_abc_SCENE-002_1", "sceneId": "SCENE-002", "status": "failed", "error": "Model refused the prompt"}],
 "results": [{"sceneId": "SCENE-001", "images": [{"signedUrl": "https://s/1.png", "thumbnailUrl": "https://s/1t.png"}]}]}
""")

BRIEF_LIVE_PENDING = json.loads("""
{"batch_job": {"id": "job_1718000000_abc123", "status": "queued", "images": []}}
""")

BRIEF_LIVE_DONE = json.loads("""
{"batch_job": {"id": "job_1718000000_abc123", "status": "succeeded", "images": [
  {"scene_id": "SCENE-001", "url": "https://storage.example/1a.png", "thumbnail_url": "https://storage.example/1a_t.png"},
  {"scene_id": "SCENE-001", "url": "https://storage.example/1b.png", "thumbnail_url": "https://storage.example/1b_t.png"},
  {"scene_id": "SCENE-002", "url": "https://storage.example/2a.png", "thumbnail_url": "https://storage.example/2a_t.png"},
  {"scene_id": "SCENE-002", "url": "https://storage.example/2b.png", "thumbnail_url": "https://storage.example/2b_t.png"},
  {"scene_id": "SCENE-002", "url": "https://storage.example/2c.png", "thumbnail_url": "https://storage.example/2c_t.png"}]}}
""")

BRIEF_STATUS_DONE = json.loads("""
{"status": "done", "progress": 100, "results": [
  {"sceneId": "SCENE-001", "images": [{"imageUrl": "https://storage.example/1a.png", "thumbnailUrl": "https://storage.example/1a_t.png"},
                                     {"imageUrl": "https://storage.example/1b.png", "thumbnailUrl": "https://storage.example/1b_t.png"}]},
  {"sceneId": "SCENE-002", "images": [{"public_url": "https://storage.example/2a.png", "thumbnail_url": "https://storage.example/2a_t.png"},
                                     {"public_url": "https://storage.example/2b.png", "thumbnail_url": "https://storage.example/2b_t.png"},
                                     {"public_url": "https://storage.example/2c.png", "thumbnail_url": "https://storage.example/2c_t.png"}]}]}
""")

REAL_STATUS = json.loads("""
{"jobId": "job_1718000000_abc123", "status": "running", "progress": 0.65,
 "startedAt": "2024-06-10T10:00:00Z", "estimatedCompletion": "2024-06-10T10:05:00Z", "outputs": [], "error": null}
""")

ROWS = [
    BatchRow(scene_id="SCENE-001", prompt="Modern kitchen with morning light", variants=2),
    BatchRow(scene_id="SCENE-002", prompt="Cozy living room with fireplace", variants=3),
]


# --- status words and progress --------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("queued", JobStatus.QUEUED), ("pending", JobStatus.QUEUED), ("starting", JobStatus.QUEUED),
        ("ready_to_queue", JobStatus.QUEUED), ("running", JobStatus.RUNNING),
        ("processing", JobStatus.RUNNING), ("in_progress", JobStatus.RUNNING),
        ("In Progress", JobStatus.RUNNING), ("in-progress", JobStatus.RUNNING),
        ("completed", JobStatus.COMPLETED), ("succeeded", JobStatus.COMPLETED),
        ("done", JobStatus.COMPLETED), ("success", JobStatus.COMPLETED), ("SUCCEEDED", JobStatus.COMPLETED),
        ("failed", JobStatus.FAILED), ("error", JobStatus.FAILED), ("canceled", JobStatus.CANCELED),
        ("cancelled", JobStatus.CANCELED), (" Done ", JobStatus.COMPLETED),
        ("exploded", JobStatus.UNKNOWN), ("", JobStatus.UNKNOWN), (None, JobStatus.UNKNOWN),
        (3, JobStatus.UNKNOWN),
    ],
)
def test_status_words_normalise(word, expected):
    """Every status word seen across revisions maps to one JobStatus; others are unknown."""
    assert normalize_status(word) is expected


@given(st.one_of(st.text(), st.none(), st.integers(), st.floats(), st.binary()))
def test_status_normalisation_never_raises(word):
    """Whatever the server sends as a status, normalisation gives a JobStatus."""
    assert isinstance(normalize_status(word), JobStatus)


@given(st.text())
def test_unknown_status_keeps_the_raw_word(word):
    """A job with any status word keeps that word verbatim next to the normalised status."""
    job = LiveResult.model_validate({"batchId": "b", "jobs": [{"jobId": "j", "sceneId": "A", "status": word}]}).jobs[0]
    assert job.status_word == word
    assert job.status is normalize_status(word)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.65, 0.65), (65, 0.65), ("65%", 0.65), ("0.5", 0.5), (100, 1.0), (1, 1.0), (0, 0.0),
     (250, 1.0), (-3, 0.0), (None, None), ("soon", None), (float("nan"), None), (True, None)],
)
def test_progress_is_a_fraction(raw, expected):
    """Progress sent as a fraction, a percentage or text becomes a 0–1 fraction."""
    assert normalize_progress(raw) == (pytest.approx(expected) if expected is not None else None)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(), st.none()))
def test_progress_never_raises_and_stays_in_range(raw):
    """Progress normalisation never raises and never leaves 0–1."""
    value = normalize_progress(raw)
    assert value is None or 0.0 <= value <= 1.0


# --- image URL fields -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["signedUrl", "url", "public_url", "imageUrl"])
def test_every_image_url_field_is_read(field):
    """Each image URL field name the servers use ends up in ImageOut.url."""
    assert ImageOut.model_validate({field: "https://s/a.png"}).url == "https://s/a.png"


@pytest.mark.parametrize("field", ["thumbnailUrl", "thumbnail_url"])
def test_every_thumbnail_field_is_read(field):
    """Both thumbnail field names end up in ImageOut.thumbnail_url."""
    image = ImageOut.model_validate({"url": "https://s/a.png", field: "https://s/t.png"})
    assert image.thumbnail_url == "https://s/t.png"
    assert image.display_url == "https://s/t.png"


def test_signed_url_wins_over_plain_url():
    """When an image has both signedUrl and url, the signed one is used."""
    assert ImageOut.model_validate({"url": "https://a", "signedUrl": "https://b"}).url == "https://b"


def test_a_bare_string_is_an_image_url():
    """A result that is just a URL string is an image with that URL."""
    assert ImageOut.model_validate("https://s/a.png").url == "https://s/a.png"


# --- dry-run --------------------------------------------------------------------------


def test_real_dry_run_normalises_with_exact_decimal_cost():
    """The real dry-run answer gives batch id, items, message and a Decimal cost without float noise."""
    result = parse_dry_run(REAL_DRY_RUN)
    assert result.batch_id == "batch_1718000000_0123456789ab"
    assert result.estimated_cost == Decimal("0.010000000000000002")
    assert [(i.scene_id, i.variants, i.estimated_cost) for i in result.items] == [
        ("SCENE-001", 2, Decimal("0.004")), ("SCENE-002", 3, Decimal("0.006"))]
    assert result.message.startswith("Dry run completed")


def test_brief_dry_run_normalises():
    """The brief's {batch_job: ...} dry-run gives its id; an absent cost stays None."""
    result = parse_dry_run({"batch_job": {"id": "job_1_x", "status": "completed", "images": []}})
    assert result.batch_id == "job_1_x"
    assert result.estimated_cost is None


# --- live -----------------------------------------------------------------------------


def test_real_live_normalises_jobs_images_and_variants():
    """The real synchronous answer attaches each scene's images to its job, numbered by order."""
    result = parse_live(REAL_LIVE)
    assert result.pending is False
    assert result.status is JobStatus.COMPLETED
    assert [j.scene_id for j in result.jobs] == ["SCENE-001", "SCENE-002"]
    assert [i.variant for i in result.jobs[1].images] == [1, 2, 3]
    first = result.jobs[0].images[0]
    assert (first.url, first.thumbnail_url, first.gcs_uri) == (
        "https://storage.example/1a.png?sig=1", "https://storage.example/1a_t.png", "gs://b/1a.png")
    assert result.reported_actual_cost == Decimal("0.008")


def test_counted_cost_ignores_the_servers_wrong_actual_cost():
    """Our cost is returned images × $0.002 (5 images → $0.010), not the server's actualCost."""
    result = parse_live(REAL_LIVE)
    assert counted_cost(result) == Decimal("0.010")
    assert counted_cost(result) != result.reported_actual_cost


def test_partial_live_keeps_failures_and_rejections():
    """A partly failed batch keeps each job's status and error, and the rejected scene ids."""
    result = parse_live(REAL_LIVE_PARTIAL)
    assert result.partial
    assert [j.scene_id for j in result.failed_jobs] == ["SCENE-002"]
    assert result.failed_jobs[0].error == "Model refused the prompt"
    assert result.rejected == ("SCENE-003",)
    assert counted_cost(result) == Decimal("0.002")


def test_brief_live_pending_must_be_polled():
    """The brief's queued batch_job is pending (poll job_status) with its id as batch id."""
    result = parse_live(BRIEF_LIVE_PENDING)
    assert result.pending is True
    assert result.batch_id == "job_1718000000_abc123"
    assert result.status is JobStatus.QUEUED
    assert result.images == ()


def test_both_shapes_give_the_same_generated_images():
    """The real answer and the brief's finished answer give identical GeneratedImages (bar ids)."""
    def key(images):
        return [(g.scene_id, g.variant, g.url.split("?")[0], g.thumbnail_url, g.prompt) for g in images]

    real = generated_images(parse_live(REAL_LIVE), ROWS)
    brief = generated_images(parse_live(BRIEF_LIVE_DONE), ROWS)
    polled = generated_images(parse_status(BRIEF_STATUS_DONE), ROWS)
    assert key(real) == key(brief) == key(polled)
    assert real[0].prompt == "Modern kitchen with morning light"
    assert counted_cost(parse_live(REAL_LIVE)) == counted_cost(parse_live(BRIEF_LIVE_DONE)) == Decimal("0.010")


def test_live_result_survives_a_dump_round_trip():
    """A normalised LiveResult dumped to JSON validates back to an equal model."""
    result = parse_live(REAL_LIVE_PARTIAL)
    assert LiveResult.model_validate_json(result.model_dump_json()) == result


def test_extra_fields_are_ignored():
    """Fields the models do not know (cached, runMode, newer additions) are ignored."""
    payload = {**REAL_LIVE, "cached": True, "somethingNew": {"x": 1}}
    assert parse_live(payload).batch_id == REAL_LIVE["batchId"]


# --- status ---------------------------------------------------------------------------


def test_real_status_placeholder_normalises():
    """The real server's placeholder status reads as running at 65% with no outputs."""
    result = parse_status(REAL_STATUS)
    assert (result.job_id, result.status, result.progress, result.outputs, result.error) == (
        "job_1718000000_abc123", JobStatus.RUNNING, pytest.approx(0.65), (), "")
    assert not result.done


def test_brief_status_done_has_images_and_full_progress():
    """The brief's finished status gives completed, progress 1.0 and every image."""
    result = parse_status(BRIEF_STATUS_DONE, "job_1")
    assert result.done and result.status is JobStatus.COMPLETED and result.progress == 1.0
    assert result.job_id == "job_1"
    assert len(result.images) == 5


def test_status_with_video_outputs():
    """Video outputs (URL strings or objects with videoUrl) land in outputs."""
    result = parse_status({"status": "done", "outputs": ["https://s/v1.mp4", {"videoUrl": "https://s/v2.mp4"}]})
    assert result.outputs == ("https://s/v1.mp4", "https://s/v2.mp4")


def test_status_error_object_becomes_text():
    """An error given as an object is kept as its message."""
    result = parse_status({"status": "error", "error": {"code": "X", "message": "Quota exceeded"}})
    assert (result.status, result.error) == (JobStatus.FAILED, "Quota exceeded")


# --- videos, uploads, health ----------------------------------------------------------


def test_video_item_request_has_exactly_the_schema_fields():
    """A VideoItem's request body has exactly the server's fields, duration 8 and fps 24."""
    item = VideoItem(scene_id="A", prompt="slow push in", approved_image_url="https://s/a.png", veo_model="veo3")
    assert item.to_request() == {
        "scene_id": "A", "prompt": "slow push in", "approved_image_url": "https://s/a.png",
        "veo_model": "veo3", "aspect": "16:9", "resolution": 720, "duration_s": 8, "fps": 24}


def test_video_item_rejects_unknown_values():
    """A VideoItem refuses a model, duration or field the server does not know."""
    with pytest.raises(ValueError):
        VideoItem(scene_id="A", prompt="p", approved_image_url="https://s", veo_model="sora")
    with pytest.raises(ValueError):
        VideoItem(scene_id="A", prompt="p", approved_image_url="https://s", duration_s=10)


def test_brief_video_answer_normalises():
    """The brief's {batch_job: {id, status, videos}} becomes a pending VideoBatchResult."""
    result = parse_videos({"batch_job": {"id": "vb_1", "status": "ready_to_queue", "videos": [
        {"scene_id": "A", "status": "queued"}, {"scene_id": "B", "status": "done", "video_url": "https://s/b.mp4"}]}})
    assert (result.batch_id, result.status, result.pending) == ("vb_1", JobStatus.QUEUED, True)
    assert [(j.scene_id, j.status, j.video_url) for j in result.jobs] == [
        ("A", JobStatus.QUEUED, ""), ("B", JobStatus.COMPLETED, "https://s/b.mp4")]


def test_real_style_video_answer_normalises():
    """A batchId/jobs video answer with finished jobs is not pending."""
    result = parse_videos({"batchId": "vb_2", "jobs": [{"jobId": "j", "sceneId": "A", "status": "done",
                                                        "videoUrl": "https://s/a.mp4"}]})
    assert (result.batch_id, result.status, result.pending) == ("vb_2", JobStatus.COMPLETED, False)
    assert isinstance(result, VideoBatchResult)


def test_upload_answer_normalises():
    """The /upload-reference answer gives name, url, thumbnail, size and mime per file."""
    refs = parse_uploads({"success": True, "batchId": "u1", "totalSize": 3, "images": [
        {"originalName": "a.png", "url": "https://s/a.png", "thumbnailUrl": "https://s/a_t.png",
         "gcsUri": "gs://b/a.png", "size": 3, "mimeType": "image/png", "uploadedAt": "2024-06-10T00:00:00Z"}]})
    assert refs == [UploadedRef(name="a.png", url="https://s/a.png", thumbnail_url="https://s/a_t.png",
                                gcs_uri="gs://b/a.png", size=3, mime="image/png")]


def test_health_answer_normalises():
    """/healthz gives status, service and version, and ok when healthy."""
    health = parse_health({"status": "healthy", "timestamp": "t", "service": "orchestrator", "version": "1.0.0"})
    assert health.ok and health == Health(status="healthy", timestamp="t", service="orchestrator", version="1.0.0")


# --- shapes we do not understand ------------------------------------------------------


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (parse_live, {"hello": "world"}), (parse_live, []), (parse_live, None), (parse_live, "ok"),
        (parse_live, {"batchId": "b", "jobs": "not a list of jobs"}),
        (parse_dry_run, {"unexpected": 1}), (parse_status, {"progress": 5}), (parse_health, {}),
        (parse_videos, {"nothing": True}), (parse_uploads, {"success": True}), (parse_uploads, 7),
    ],
)
def test_unknown_shapes_raise_response_format_error(parse, payload):
    """A payload in no shape we know is a ResponseFormatError with a readable message."""
    with pytest.raises(ResponseFormatError) as info:
        parse(payload)
    assert "shape" in str(info.value) or "listed no" in str(info.value)


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["batchId", "jobs", "results", "images", "status", "batch_job", "sceneId",
                         "signedUrl", "progress", "estimatedCost", "id", "x"]), children, max_size=5),
    max_leaves=20,
))
def test_any_json_either_parses_or_is_a_response_format_error(payload):
    """Arbitrary JSON never escapes the parsers as anything but a ResponseFormatError."""
    for parse in (parse_live, parse_dry_run, parse_status, parse_videos, parse_uploads, parse_health):
        try:
            parse(payload)
        except ResponseFormatError:
            pass


def test_generated_images_from_status_results():
    """Images from a status poll become GeneratedImages with the job id and row prompts."""
    images = generated_images(parse_status(BRIEF_STATUS_DONE, "job_9"), ROWS)
    assert [(g.scene_id, g.variant) for g in images] == [
        ("SCENE-001", 1), ("SCENE-001", 2), ("SCENE-002", 1), ("SCENE-002", 2), ("SCENE-002", 3)]
    assert {g.job_id for g in images} == {"job_9"}
    assert images[2].prompt == "Cozy living room with fireplace"
    assert isinstance(parse_status(BRIEF_STATUS_DONE), StatusResult)
    assert isinstance(parse_dry_run(REAL_DRY_RUN), DryRunResult)


def test_status_keeps_each_scenes_outcome():
    """A status poll keeps every scene's status and error, not just the images."""
    result = parse_status({"jobId": "job_1_a", "status": "running", "progress": 50, "results": [
        {"scene_id": "A", "status": "completed", "images": [{"url": "https://s/a.png"}]},
        {"scene_id": "B", "status": "failed", "images": [], "error": "Generation failed for B"}]})
    assert [(r.scene_id, r.status, r.error, len(r.images)) for r in result.results] == [
        ("A", JobStatus.COMPLETED, "", 1), ("B", JobStatus.FAILED, "Generation failed for B", 0)]
    assert [r.scene_id for r in result.failed_results] == ["B"]
    assert StatusResult.model_validate_json(result.model_dump_json()) == result


# --- odd but possible answers ----------------------------------------------------------


@pytest.mark.parametrize("raw", [10**400, Decimal("sNaN"), [50], {"percent": 50}])
def test_progress_that_is_not_a_usable_number_is_unknown(raw):
    """A progress too large for a float, a signalling NaN, a list or an object reads as unknown (None)."""
    assert normalize_progress(raw) is None


def test_status_with_an_absurdly_large_progress_still_parses():
    """A status whose progress is a 400-digit integer keeps its status and reports no progress."""
    result = parse_status(json.loads('{"status": "processing", "progress": ' + "9" * 400 + "}"))
    assert (result.status, result.progress) == (JobStatus.RUNNING, None)


def test_dry_run_item_that_is_not_an_object_is_a_response_format_error():
    """A dry-run answer whose items are bare strings is refused, saying an item must be an object."""
    payload = {"batchId": "b", "runMode": "dry_run", "estimatedCost": 0.002, "items": ["SCENE-001"]}
    with pytest.raises(ResponseFormatError, match="a dry-run item must be an object"):
        parse_dry_run(payload)


def test_live_answer_with_a_job_still_running_is_running_and_must_be_polled():
    """One scene completed and one still processing: the batch is running, pending, not completed."""
    result = parse_live({"batchId": "b", "jobs": [
        {"jobId": "j1", "sceneId": "A", "status": "completed"},
        {"jobId": "j2", "sceneId": "B", "status": "processing"}],
        "results": [{"sceneId": "A", "images": [{"signedUrl": "https://s/a.png"}]}]})
    assert (result.status, result.pending) == (JobStatus.RUNNING, True)


def test_status_results_mix_videos_scene_groups_and_bare_images():
    """In a status answer's results, a videoUrl entry is an output and a bare image entry is an image."""
    result = parse_status({"status": "done", "results": [
        {"videoUrl": "https://s/v.mp4"},
        {"sceneId": "A", "images": ["https://s/a.png"]},
        {"signedUrl": "https://s/b.png", "sceneId": "B"}]})
    assert result.outputs == ("https://s/v.mp4",)
    assert [(i.scene_id, i.url) for i in result.images] == [("A", "https://s/a.png"), ("B", "https://s/b.png")]


def test_video_answer_listing_bare_urls_keeps_each_clip_url():
    """A video answer whose videos are plain URL strings gives one job per URL, status unknown."""
    result = parse_videos({"batchId": "vb_1", "videos": ["https://s/v1.mp4", "https://s/v2.mp4"]})
    assert [j.video_url for j in result.jobs] == ["https://s/v1.mp4", "https://s/v2.mp4"]
    assert {j.status for j in result.jobs} == {JobStatus.UNKNOWN} and result.pending
