"""Adapters: everything that talks to the world — the orchestrator client (httpx), the
workspace store (SQLAlchemy), reference uploads and image checks (Pillow, GCS), the job
runner (threads) and the paid-call worker procedures."""
