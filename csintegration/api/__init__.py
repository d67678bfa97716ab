"""Shared API machinery: problem+json errors, request ids, pagination, scopes, idempotency, schema."""
