"""The OAuth 2.0 endpoints under ``/o/``: exactly those of CONTRACT.md §2, nothing else.

django-oauth-toolkit's own URL module also serves application management, the device flow, OpenID
Connect discovery and userinfo, and dynamic client registration; none of them is part of the platform,
so they are not routed (any other path under ``/o/`` is a problem+json 404).
"""

from django.conf import settings
from django.urls import path
from django.utils.decorators import method_decorator
from django_otp.decorators import otp_required
from oauth2_provider import views as oauth_views

from .views import IntrospectTokenView

app_name = "oauth2_provider"  # DOT reverses its views in this namespace


@method_decorator(otp_required(login_url=settings.LOGIN_URL), name="dispatch")
class AuthorizationView(oauth_views.AuthorizationView):
    """The consent page of the authorization-code flow, for a user signed in with their second factor
    (the admin's sign-in: password and TOTP code)."""


urlpatterns = [
    path("authorize/", AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    # A client introspects its own tokens only (views.py), not DOT's any-token introspection.
    path("introspect/", IntrospectTokenView.as_view(), name="introspect"),
    path(".well-known/jwks.json", oauth_views.JwksInfoView.as_view(), name="jwks-info"),
]
