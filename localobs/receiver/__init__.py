"""The OTLP receiver: bytes in, decoded and validated batches handed to the store."""

from localobs.receiver.app import DEFAULT_MAX_BODY, create_receiver_app

__all__ = ["DEFAULT_MAX_BODY", "create_receiver_app"]
