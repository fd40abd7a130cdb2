"""The Export and import section: a manifest of approved images goes back in as a new batch."""

from __future__ import annotations

from batchcore.domain.exports import manifest_csv, manifest_json, manifest_records
from tests.app.conftest import approve, confirm_generate, dry_run, enter_batch, texts


def _approve_two(app):
    enter_batch(app)
    dry_run(app)
    confirm_generate(app)
    approve(app, "SCENE-001", 2)
    approve(app, "SCENE-003", 1)
    return manifest_records(app.session_state["wf"])


def test_an_exported_csv_manifest_imports_back_as_a_new_batch_that_needs_its_own_dry_run(app):
    """Importing the approved-images CSV fills Batch mode with those rows; Generate is off again."""
    records = _approve_two(app)
    assert [r["scene_id"] for r in records] == ["SCENE-001", "SCENE-003"]
    app.file_uploader(key="manifest_upload").set_value(
        [("batch-manifest.csv", ("\ufeff" + manifest_csv(records)).encode(), "text/csv")]).run()
    app.button(key="import_manifest").click().run()
    rows = app.session_state["wf"].draft.rows
    assert [(r.scene_id, r.prompt, r.variants) for r in rows] == [
        ("SCENE-001", "Modern kitchen with morning light", 2),
        ("SCENE-003", "Home office with plants", 1),
    ]
    assert app.button(key="generate").disabled
    assert "Imported all 2 rows from batch-manifest.csv." in "\n".join(
        e.render() for e in app.session_state["wf"].log)


def test_a_broken_manifest_is_refused_with_a_message_and_keeps_the_batch(app):
    """A JSON manifest that is not a list of records says why; the current batch is untouched."""
    _approve_two(app)
    before = app.session_state["wf"].draft
    app.file_uploader(key="manifest_upload").set_value(
        [("batch-manifest.json", b'{"not": "a manifest"', "application/json")]).run()
    app.button(key="import_manifest").click().run()
    assert app.session_state["wf"].draft == before
    assert any("not valid JSON" in e.value for e in app.error), texts(app)


def test_the_json_manifest_imports_too(app):
    """The JSON manifest round-trips into Batch mode just like the CSV one."""
    records = _approve_two(app)
    app.file_uploader(key="manifest_upload").set_value(
        [("m.json", manifest_json(records).encode(), "application/json")]).run()
    app.button(key="import_manifest").click().run()
    assert [r.scene_id for r in app.session_state["wf"].draft.rows] == ["SCENE-001", "SCENE-003"]


def test_a_prepared_zip_is_withdrawn_when_the_approvals_change(app):
    """The ZIP download is offered for the picks it was made from; a new pick needs a new ZIP."""
    _approve_two(app)
    app.button(key="zip").click().run()
    assert "Download ZIP" in [b.label for b in app.get("download_button")]
    approve(app, "SCENE-001", 1)
    assert "Download ZIP" not in [b.label for b in app.get("download_button")]
