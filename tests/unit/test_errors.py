"""The error tree: one base class, readable messages, and the key never shown."""

from __future__ import annotations

import pytest

import batchcore
from batchcore import errors as E
from tests.conftest import fake_key

TREE = {
    E.InputError: E.BatchStudioError,
    E.ReferenceFileError: E.InputError,
    E.GuardrailError: E.BatchStudioError,
    E.DryRunRequired: E.GuardrailError,
    E.ConfirmationMismatch: E.GuardrailError,
    E.AlreadySubmitted: E.GuardrailError,
    E.SpendCapExceeded: E.GuardrailError,
    E.OrchestratorError: E.BatchStudioError,
    E.TransportError: E.OrchestratorError,
    E.OutcomeUnknown: E.OrchestratorError,
    E.ResponseFormatError: E.OrchestratorError,
    E.ApiError: E.OrchestratorError,
    E.AuthError: E.ApiError,
    E.BudgetExceeded: E.ApiError,
    E.RateLimited: E.ApiError,
    E.NotImplementedByBackend: E.ApiError,
    E.UploadError: E.BatchStudioError,
    E.StoreError: E.BatchStudioError,
}


@pytest.mark.parametrize("cls, parent", TREE.items(), ids=[c.__name__ for c in TREE])
def test_each_error_has_its_documented_parent(cls, parent):
    """Every error class's direct parent is the one the module's tree documents."""
    assert cls.__bases__ == (parent,)


def test_base_is_an_exception_and_everything_is_covered():
    """BatchStudioError is an Exception, and every class in errors.__all__ is in the tree."""
    assert issubclass(E.BatchStudioError, Exception)
    classes = {getattr(E, n) for n in E.__all__ if isinstance(getattr(E, n), type)}
    assert classes == set(TREE) | {E.BatchStudioError}


def test_the_package_face_exports_the_error_bases():
    """The small public face names the base errors a caller catches; each is the class of
    batchcore.errors (the whole tree is imported from there)."""
    for name in ("BatchStudioError", "InputError", "GuardrailError", "OrchestratorError",
                 "StoreError"):
        assert name in batchcore.__all__
        assert getattr(batchcore, name) is getattr(E, name)


def test_message_is_the_str():
    """str(error) is exactly the message a person sees."""
    assert str(E.DryRunRequired("Run Dry-Run Images first.")) == "Run Dry-Run Images first."


def test_reference_file_error_keeps_the_filename():
    """ReferenceFileError carries the refused file's name."""
    err = E.ReferenceFileError("Too big.", filename="a.png")
    assert (str(err), err.filename) == ("Too big.", "a.png")
    assert E.ReferenceFileError("x").filename == ""


def test_outcome_unknown_keeps_the_batch_identity():
    """OutcomeUnknown carries the batch hash and id so a person can check what happened."""
    err = E.OutcomeUnknown("No answer.", batch_hash="abc", batch_id="b1")
    assert (err.batch_hash, err.batch_id) == ("abc", "b1")
    assert (E.OutcomeUnknown("x").batch_hash, E.OutcomeUnknown("x").batch_id) == ("", "")


def test_api_error_keeps_the_problem_fields():
    """ApiError carries status, title, detail and type; subclasses take the same fields."""
    err = E.ApiError("Bad.", status=422, title="Invalid", detail="rows", type="about:blank")
    assert (err.status, err.title, err.detail, err.type) == (422, "Invalid", "rows", "about:blank")
    auth = E.AuthError("No key.", status=401)
    assert (auth.status, auth.title, auth.detail, auth.type) == (401, "", "", "")


def test_rate_limited_keeps_retry_after():
    """RateLimited carries retry_after (seconds, or None) besides the API fields."""
    err = E.RateLimited("Slow down.", retry_after=2.5, status=429, title="Too Many")
    assert (err.retry_after, err.status, err.title) == (2.5, 429, "Too Many")
    assert E.RateLimited("x", status=429).retry_after is None


def test_redact_replaces_every_secret():
    """redact replaces every occurrence of every non-empty secret with [redacted]."""
    key = fake_key("k")
    other = fake_key("o")
    text = f"key={key} again {key} and {other}"
    out = E.redact(text, key, other)
    assert key not in out and other not in out
    assert out == "key=[redacted] again [redacted] and [redacted]"


def test_redact_ignores_empty_and_missing_secrets():
    """Empty or None secrets leave the text unchanged (an empty string would match everywhere)."""
    assert E.redact("hello", "", None) == "hello"
    assert E.redact("hello") == "hello"


def test_a_redacted_message_never_shows_the_key():
    """An error built from a redacted message does not contain the key."""
    key = fake_key("z")
    err = E.AuthError(E.redact(f"Server said: bad key {key}", key), status=403)
    assert key not in str(err) and "[redacted]" in str(err)
