"""Batch Studio's core: rules, prices, hashing, workflow decisions. Never imports Streamlit.

Everything a page needs is importable from here; the names in ``__all__`` are the contract.
"""

from __future__ import annotations

from .errors import (
    AlreadySubmitted,
    ApiError,
    AuthError,
    BatchStudioError,
    BudgetExceeded,
    ConfirmationMismatch,
    DryRunRequired,
    GuardrailError,
    InputError,
    NotImplementedByBackend,
    OrchestratorError,
    OutcomeUnknown,
    RateLimited,
    ReferenceFileError,
    ResponseFormatError,
    SpendCapExceeded,
    StoreError,
    TransportError,
    UploadError,
    redact,
)
from .hashing import batch_hash, day_bucket, rows_json
from .pricing import (
    MAX_PROMPT_CHARS,
    MAX_REF_IMAGES,
    MAX_ROWS,
    MAX_SCENE_ID_CHARS,
    MAX_VARIANTS,
    MAX_VIDEO_CLIPS,
    PRICE_PER_IMAGE,
    VIDEO_CLIP_SECONDS,
    VIDEO_PRICES,
    format_money,
    image_cost,
    to_decimal,
    total_images,
    video_cost,
)
from .rows import (
    BatchRow,
    LineError,
    ParseResult,
    attach_refs,
    format_batch,
    parse_batch,
    parse_single,
    rows_from_records,
)
from .statuslog import LogEntry, log_entry, render_log
from .workflow import (
    Approval,
    Draft,
    DryRunReceipt,
    Gate,
    GeneratedImage,
    Submission,
    WorkflowState,
    append_log,
    approve,
    approved_scenes,
    begin_image_submission,
    can_generate,
    check_video_confirmation,
    current_hash,
    describe_receipt,
    finish_submission,
    in_flight,
    make_receipt,
    record_dry_run,
    record_images,
    unapprove,
    video_confirmation_ok,
    with_draft,
)

__all__ = [
    # errors
    "AlreadySubmitted", "ApiError", "AuthError", "BatchStudioError", "BudgetExceeded",
    "ConfirmationMismatch", "DryRunRequired", "GuardrailError", "InputError",
    "NotImplementedByBackend", "OrchestratorError", "OutcomeUnknown", "RateLimited",
    "ReferenceFileError", "ResponseFormatError", "SpendCapExceeded", "StoreError",
    "TransportError", "UploadError", "redact",
    # limits and prices
    "MAX_PROMPT_CHARS", "MAX_REF_IMAGES", "MAX_ROWS", "MAX_SCENE_ID_CHARS", "MAX_VARIANTS",
    "MAX_VIDEO_CLIPS", "PRICE_PER_IMAGE", "VIDEO_CLIP_SECONDS", "VIDEO_PRICES",
    "format_money", "image_cost", "to_decimal", "total_images", "video_cost",
    # rows
    "BatchRow", "LineError", "ParseResult", "attach_refs", "format_batch", "parse_batch",
    "parse_single", "rows_from_records",
    # hashing
    "batch_hash", "day_bucket", "rows_json",
    # status log
    "LogEntry", "log_entry", "render_log",
    # workflow
    "Approval", "Draft", "DryRunReceipt", "Gate", "GeneratedImage", "Submission",
    "WorkflowState", "append_log", "approve", "approved_scenes", "begin_image_submission",
    "can_generate", "check_video_confirmation", "current_hash", "describe_receipt",
    "finish_submission", "in_flight", "make_receipt", "record_dry_run", "record_images",
    "unapprove", "video_confirmation_ok", "with_draft",
]
