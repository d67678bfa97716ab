"""Scope checks: a view names its area (``scope_area = "customers"``); the method picks read or write.

A view may instead fix one scope for every method (``required_scope = "webhooks:manage"``), or
name one per method (``required_scopes = {"GET": "customers:read"}``).
"""

from rest_framework import permissions
from rest_framework.exceptions import NotAuthenticated, PermissionDenied

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scope_for(view, method: str) -> str | None:
    per_method = getattr(view, "required_scopes", None)
    if per_method and method in per_method:
        return per_method[method]
    if getattr(view, "required_scope", None):
        return view.required_scope
    area = getattr(view, "scope_area", None)
    if area is None:
        return None
    return f"{area}:read" if method in READ_METHODS else f"{area}:write"


def token_scopes(request) -> set[str]:
    token = getattr(request, "auth", None)
    scope = getattr(token, "scope", "") or ""
    return set(scope.split())


class HasAreaScope(permissions.BasePermission):
    """Requires a valid token whose scopes include the one this view and method need."""

    def has_permission(self, request, view) -> bool:
        if getattr(view, "public", False):
            return True
        if request.auth is None:
            raise NotAuthenticated()
        scope = required_scope_for(view, request.method)
        if scope is None:
            raise PermissionDenied("This operation declares no scope and is closed.")
        if scope not in token_scopes(request):
            raise PermissionDenied(f"The token lacks the scope '{scope}' that this operation requires.")
        return True
