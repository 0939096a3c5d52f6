"""Resource and scope rows, ids and digests shared by the three signals' decoders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from localobs.receiver.anyvalue import attributes
from localobs.receiver.faults import FAULTS
from localobs.store.batch import Row

# OTLP times are unsigned 64-bit; SQLite integers are signed, which ends in the year 2262.
TIME_RANGE = "times must be below 2^63 ns (the year 2262), the range SQLite stores"


def dumps(value: Any) -> str:
    """JSON text for a TEXT column (bytes would be stored as BLOB and read as JSONB by SQLite)."""
    return orjson.dumps(value).decode()


def json_or_none(value: Any) -> str | None:
    return dumps(value) if value else None


def stable_id(*parts: Any) -> int:
    """A signed 64-bit id derived from content, so both ends agree on it without a lookup."""
    digest = hashlib.blake2b(orjson.dumps(parts), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def body_digest(body: bytes) -> str:
    """SHA-256 (hardware-accelerated on current CPUs, the fastest hashlib digest here), 128 bits."""
    return hashlib.sha256(body).hexdigest()[:32]


@dataclass(slots=True)
class Rejections:
    """Items refused one by one (OTLP partial success): how many, and the first reason."""

    count: int = 0
    message: str = ""

    def add(self, reason: str) -> None:
        self.count += 1
        if not self.message:
            self.message = reason


@dataclass(slots=True)
class Envelopes:
    """Collects the distinct resources and scopes of one request."""

    resources: dict[int, Row] = field(default_factory=dict)
    scopes: dict[int, Row] = field(default_factory=dict)

    def resource(self, resource: Resource, schema_url: str) -> tuple[int, str | None]:
        """The resource's id and service name."""
        attrs = attributes(resource.attributes)
        service = attrs.get("service.name")
        service_name = service if isinstance(service, str) else None
        text = dumps(attrs)
        dropped = resource.dropped_attributes_count
        resource_id = stable_id(text, dropped, schema_url)
        if resource_id not in self.resources:
            self.resources[resource_id] = (
                resource_id,
                service_name,
                text,
                dropped,
                schema_url or None,
            )
        return resource_id, service_name

    def scope(self, scope: InstrumentationScope, schema_url: str) -> int:
        text = json_or_none(attributes(scope.attributes))
        dropped = scope.dropped_attributes_count
        scope_id = stable_id(scope.name, scope.version, text, dropped, schema_url)
        if scope_id not in self.scopes:
            self.scopes[scope_id] = (
                scope_id,
                scope.name or None,
                scope.version or None,
                text,
                dropped,
                schema_url or None,
            )
        return scope_id


def item_failed(label: str, exc: Exception) -> str:
    """The rejection message of an item whose decoding failed unforeseen (recorded in FAULTS)."""
    FAULTS.record("decoding", exc)
    return f"{label} could not be decoded: {type(exc).__name__}: {exc}"


def valid_id(value: bytes, size: int) -> bool:
    """`size` bytes, not all zero (OTLP's invalid id); counted in place, nothing allocated."""
    return len(value) == size and value.count(0) != size


def optional_hex(value: bytes) -> str | None:
    return value.hex() if value else None
