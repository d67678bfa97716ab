"""Authentication of API calls: RFC 9068 JWT access tokens, token introspection, seen request signatures."""
