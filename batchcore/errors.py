"""Every exception Batch Studio raises on purpose, in one tree.

The page catches ``BatchStudioError`` and shows ``str(exc)``: every message here is a
sentence a person understands, and none of them ever contains the API key.

::

    BatchStudioError
    ├── InputError                  the person's input breaks a rule (nothing was sent)
    │   └── ReferenceFileError      an uploaded reference image is refused (type, size, count)
    ├── GuardrailError              a paid action is refused before anything is sent
    │   ├── DryRunRequired          no matching, same-day dry-run receipt for this batch hash
    │   ├── ConfirmationMismatch    the typed confirmation does not match (e.g. the clip count)
    │   ├── AlreadySubmitted        this batch is in flight or was already generated
    │   └── SpendCapExceeded        the workspace's daily spend cap would be passed
    ├── OrchestratorError           talking to the orchestrator (real server or emulator) failed
    │   ├── TransportError          the request provably never reached the server (safe to retry)
    │   ├── OutcomeUnknown          a paid request was sent but no answer came: never resent
    │   ├── ResponseFormatError     the server answered, but not in any shape we understand
    │   └── ApiError                the server answered with an error status
    │       ├── AuthError           401/403: key missing, malformed or wrong
    │       ├── BudgetExceeded      402: the server's daily budget is used up
    │       ├── RateLimited         429: too many requests (carries ``retry_after``)
    │       └── NotImplementedByBackend  501: e.g. videos on today's server
    ├── UploadError                 a reference upload failed after validation
    └── StoreError                  the workspace store could not read or write
"""

from __future__ import annotations

__all__ = [
    "AlreadySubmitted",
    "ApiError",
    "AuthError",
    "BatchStudioError",
    "BudgetExceeded",
    "ConfirmationMismatch",
    "DryRunRequired",
    "GuardrailError",
    "InputError",
    "NotImplementedByBackend",
    "OrchestratorError",
    "OutcomeUnknown",
    "RateLimited",
    "ReferenceFileError",
    "ResponseFormatError",
    "SpendCapExceeded",
    "StoreError",
    "TransportError",
    "UploadError",
    "redact",
]

_REDACTED = "[redacted]"


def redact(text: str, *secrets: str | None) -> str:
    """Return ``text`` with every non-empty secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


class BatchStudioError(Exception):
    """Base of every error Batch Studio raises on purpose."""


class InputError(BatchStudioError):
    """The person's input breaks a rule; nothing was sent anywhere."""


class ReferenceFileError(InputError):
    """An uploaded reference image was refused before any network call."""

    def __init__(self, message: str, *, filename: str = "") -> None:
        super().__init__(message)
        self.filename = filename


class GuardrailError(BatchStudioError):
    """A paid action was refused by a guardrail before anything was sent."""


class DryRunRequired(GuardrailError):
    """There is no matching, same-day dry-run receipt for this batch hash."""


class ConfirmationMismatch(GuardrailError):
    """The typed confirmation does not match what must be confirmed."""


class AlreadySubmitted(GuardrailError):
    """This batch is already in flight, or was already generated."""


class SpendCapExceeded(GuardrailError):
    """The paid action would take the workspace past its daily spend cap."""


class OrchestratorError(BatchStudioError):
    """Talking to the orchestrator failed."""


class TransportError(OrchestratorError):
    """The request provably never reached the server (connect failed); safe to retry."""


class OutcomeUnknown(OrchestratorError):
    """A paid request was sent but no answer came back.

    It may or may not have been processed and billed, so it is never resent
    automatically. ``batch_hash`` identifies the batch so a person can check.
    """

    def __init__(self, message: str, *, batch_hash: str = "", batch_id: str = "") -> None:
        super().__init__(message)
        self.batch_hash = batch_hash
        self.batch_id = batch_id


class ResponseFormatError(OrchestratorError):
    """The server answered, but in no shape we understand."""


class ApiError(OrchestratorError):
    """The server answered with an error status (problem+json, legacy or framework body)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        title: str = "",
        detail: str = "",
        type: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type


class AuthError(ApiError):
    """401/403: the API key is missing, malformed or wrong."""


class BudgetExceeded(ApiError):
    """402: the server's daily budget is used up."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` is in seconds when the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class NotImplementedByBackend(ApiError):
    """501: the backend does not implement this (e.g. videos today)."""


class UploadError(BatchStudioError):
    """A reference upload failed after the files passed validation."""


class StoreError(BatchStudioError):
    """The workspace store could not read or write."""
