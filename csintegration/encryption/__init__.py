"""Encryption at rest: AES-256-GCM model fields, their key ring, and key rotation."""
