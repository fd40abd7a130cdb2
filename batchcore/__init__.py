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
from .client import OrchestratorClient
from .config import Settings, load_settings
from .exports import (
    approved_zip,
    import_manifest,
    manifest_csv,
    manifest_json,
    manifest_records,
    status_log_text,
)
from .hashing import batch_hash, day_bucket, rows_json
from .history import batch_history, spend_per_day, spend_totals
from .jobs import Job, JobRunner
from .models import (
    DryRunResult,
    Health,
    ImageOut,
    JobOut,
    JobStatus,
    LiveResult,
    StatusResult,
    UploadedRef,
    VideoBatchResult,
    VideoItem,
    VideoJobOut,
    counted_cost,
    generated_images,
)
from .retry_rows import RetryPlan, failed_rows, plan_retry, retry_batch_text
from .spend import (
    DEFAULT_DAILY_CAP,
    SpendDecision,
    SpendSummary,
    check_spend,
    parse_cap,
    spend_gate,
    spend_today,
)
from .store import LoadResult, StaleWorkspace, WorkspaceStore, WorkspaceSummary
from .uploads import (
    BackendUploader,
    CheckResult,
    GcsSignedUrlUploader,
    LocalStoreUploader,
    RefImage,
    Refusal,
    UploadReport,
    check_references,
    upload_references,
)
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
    all_submissions,
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
    "unapprove", "video_confirmation_ok", "with_draft", "all_submissions",
    # settings and background jobs
    "Settings", "load_settings", "Job", "JobRunner",
    # talking to the orchestrator
    "OrchestratorClient", "DryRunResult", "Health", "ImageOut", "JobOut", "JobStatus",
    "LiveResult", "StatusResult", "UploadedRef", "VideoBatchResult", "VideoItem", "VideoJobOut",
    "counted_cost", "generated_images",
    # reference uploads
    "BackendUploader", "CheckResult", "GcsSignedUrlUploader", "LocalStoreUploader", "RefImage",
    "Refusal", "UploadReport", "check_references", "upload_references",
    # spend, retries, exports, history, persistence
    "DEFAULT_DAILY_CAP", "SpendDecision", "SpendSummary", "check_spend", "parse_cap",
    "spend_gate", "spend_today", "RetryPlan", "failed_rows", "plan_retry", "retry_batch_text",
    "approved_zip", "import_manifest", "manifest_csv", "manifest_json", "manifest_records",
    "status_log_text", "batch_history", "spend_per_day", "spend_totals", "LoadResult",
    "StaleWorkspace",
    "WorkspaceStore", "WorkspaceSummary",
]
