"""The wire format, pure: the orchestrator's answers as models (``models``) and its three
error bodies (``problems``). Parsing only; the HTTP calls live in ``adapters.client``."""
