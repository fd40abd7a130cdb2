"""The service layer: one function per user action (see ``services``)."""

from . import services

__all__ = ["services"]
