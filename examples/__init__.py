"""Client-side examples for integrators (not part of the server)."""
