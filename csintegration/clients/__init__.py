"""OAuth 2.0 clients of the platform: scopes, allowed IPs, quotas and a request-signing secret."""
