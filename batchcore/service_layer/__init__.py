"""The service layer: one function per user action (see ``services``)."""

from batchcore.service_layer import services

__all__ = ["services"]
