"""The composition root: settings in, a :class:`Runtime` of wired adapters out.

The Streamlit shell calls :func:`build` once per process (and caches it); tests call it with
their own transport and store. Nothing here makes a decision about money: that is the
service layer's job (``batchcore.service_layer.services``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from batchcore.adapters.changes import Changes
from batchcore.adapters.client import OrchestratorClient
from batchcore.adapters.jobs import JobRunner, process_token
from batchcore.adapters.store import WorkspaceStore
from batchcore.config import MOCK_BASE_URL, Settings

__all__ = ["Runtime", "build", "make_uploader", "mock_key"]


def mock_key() -> str:
    """A well-formed key for the emulator, built at run time (no key-like literal in the repo)."""
    return "aip" + "_" + "mock" * 11


@dataclass
class Runtime:
    """Everything the services need, built once per process."""

    settings: Settings
    client: OrchestratorClient
    runner: JobRunner
    store: WorkspaceStore | None
    #: why the store could not be opened ("" when it could)
    store_problem: str = ""
    #: the in-process emulator behind mock mode (None against a real server)
    emulator: Any = None
    #: per workspace, results from the server not saved yet (see services.WorkspaceRecorder)
    recorders: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: who runs paid work here (``host:pid:boot``), stamped on each submission so a restart
    #: can be told from a replica still working on it
    token: str = field(default_factory=process_token)
    #: the last answer of services.check_backend (None until it ran)
    backend_check: Any = None
    #: fetches images and clips off the page's thread (services.pictures makes it)
    asset_loader: Any = None
    #: where reference images go when not through the orchestrator (REFERENCE_UPLOAD=gcs)
    uploader: Any = None
    #: per view name, (the listed workspace versions, what was derived from them)
    views: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: the pages' event streams, told when a workspace is saved (adapters.changes)
    changes: Changes = field(default_factory=Changes)
    #: signs the capability tokens of the app's routes (random per process)
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    #: set when the app shuts down: new paid confirmations are refused (services.shut_down)
    closing: threading.Event = field(default_factory=threading.Event)
    #: set by close(): the sweep and every other thread this runtime started stop
    stopping: threading.Event = field(default_factory=threading.Event)
    #: the threads this runtime started (the sweep), joined by close()
    threads: list[threading.Thread] = field(default_factory=list)
    #: browser sessions seen (an id per session → when it last ran), for /metrics
    sessions: dict[str, float] = field(default_factory=dict)

    def close(self, join: float = 5.0) -> None:
        """Stop what this runtime started (the sweep) and release the store; idempotent."""
        self.closing.set()
        self.stopping.set()
        self.changes.close()
        for thread in self.threads:
            if thread is not threading.current_thread():
                thread.join(join)
        self.runner.shutdown()
        if self.store is not None:
            self.store.close()

    @property
    def deployment(self) -> str:
        """Whose money: "mock" for the emulator, else the backend URL (the cap's ledger)."""
        return "mock" if self.settings.use_mock else self.settings.base_url


def build(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    store: WorkspaceStore | None = None,
    runner: JobRunner | None = None,
    token: str | None = None,
) -> Runtime:
    """Wire the client (the emulator's transport in mock mode), the job runner and the store.

    A store that cannot be opened does not stop the app: the runtime says why, and the
    services refuse paid actions while nothing can be saved.
    """
    emulator = None
    if settings.use_mock and transport is None:
        from batchcore.emulator import Emulator, EmulatorConfig, EmulatorTransport

        emulator = Emulator(EmulatorConfig(latency_ms=settings.mock_latency_ms,
                                           profile=settings.mock_profile))
        transport = EmulatorTransport(emulator)
    if settings.use_mock:
        client = OrchestratorClient(MOCK_BASE_URL, mock_key(), transport=transport,
                                    live_read_timeout=settings.live_read_timeout)
    else:
        client = OrchestratorClient(settings.base_url, settings.key, transport=transport,
                                    live_read_timeout=settings.live_read_timeout)
    uploader, upload_problem = make_uploader(settings)
    if upload_problem:
        settings = settings.model_copy(update={"problems": (*settings.problems, upload_problem)})
    problem = ""
    if store is None:
        try:
            store = WorkspaceStore(settings.database_url)
        except Exception as exc:  # noqa: BLE001 - shown on the page; paid actions go off
            problem = f"Workspaces cannot be saved, so paid actions are off: {exc}"
            store = None
    rt = Runtime(settings=settings, client=client, runner=runner or JobRunner(),
                 store=store, store_problem=problem, emulator=emulator, uploader=uploader)
    if token is not None:
        rt.token = token
    if settings.signing_key is not None:  # shared by replicas: a link works on any of them
        rt.signing_key = hashlib.sha256(
            settings.signing_key.get_secret_value().encode("utf-8")).digest()
    return rt


def make_uploader(settings: Settings) -> tuple[Any, str]:
    """The Cloud Storage uploader when ``REFERENCE_UPLOAD=gcs`` (else None), and a sentence if
    it cannot be made (the orchestrator's upload is used then). Nothing from the credentials
    is ever in the sentence."""
    if settings.reference_upload != "gcs" or settings.gcs_service_account is None:
        return None, ""
    try:
        from google.oauth2 import service_account

        from batchcore.adapters.uploads import GcsSignedUrlUploader

        info = json.loads(settings.gcs_service_account.get_secret_value())
        credentials = service_account.Credentials.from_service_account_info(info)
        return GcsSignedUrlUploader(settings.gcs_bucket, credentials,
                                    api_endpoint=settings.gcs_endpoint or None,
                                    prefix=settings.gcs_prefix), ""
    except Exception as exc:  # noqa: BLE001 - said in the sidebar; uploads fall back
        return None, (f"Reference uploads cannot use Cloud Storage: the service account in "
                      f"GCS_SERVICE_ACCOUNT could not be loaded ({type(exc).__name__}); uploads "
                      "go through the orchestrator.")
