"""``POST /o/introspect/`` (RFC 7662) for the platform's clients: a client introspects its own tokens.

DOT's own view admits any authenticated client and answers for every token, whoever it belongs to; here
a client authenticates with its credentials (HTTP Basic, or ``client_id``/``client_secret`` in the body)
and learns about its own tokens only: any other token is ``{"active": false}``, as RFC 7662 §2.2 allows.
"""

import hashlib
import json

import jwt
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from .access_tokens import decode_access_token

INACTIVE = {"active": False}


def _authenticated_client(request: HttpRequest):
    core = get_oauthlib_core()
    uri, method, body, headers = core._extract_params(request)
    oauthlib_request = OAuthlibRequest(uri, method, body, headers)
    if not core.server.request_validator.authenticate_client(oauthlib_request):
        return None
    return oauthlib_request.client


def introspect(*, client, token: str) -> dict:
    """What RFC 7662 says of ``token`` to ``client``: active only if it is the client's and still valid."""
    checksum = hashlib.sha256(token.encode()).hexdigest()
    stored = (
        get_access_token_model()
        .objects.select_related("application", "user")
        .filter(token_checksum=checksum, application=client)
        .first()
    )
    if stored is None or not stored.is_valid():
        return INACTIVE
    try:
        claims = decode_access_token(token)
    except jwt.InvalidTokenError:
        return INACTIVE
    answer = {"active": True, "token_type": "Bearer", **claims}
    if stored.user is not None:
        answer["username"] = stored.user.get_username()
    return answer


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectTokenView(View):
    http_method_names = ["post", "options"]

    def post(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        try:
            client = _authenticated_client(request)
        except OAuth2Error as error:  # throttled, busy, or an address the client may not use
            response = JsonResponse(json.loads(error.json), status=error.status_code)
            for name, value in error.headers.items():
                response[name] = value
            return response
        if client is None or not getattr(client, "is_active", True):
            response = JsonResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed."}, status=401
            )
            response["WWW-Authenticate"] = 'Basic realm="oauth"'
            return response
        token = request.POST.get("token")
        if not token:
            return JsonResponse(
                {"error": "invalid_request", "error_description": "The token parameter is missing."},
                status=400,
            )
        response = JsonResponse(introspect(client=client, token=token))
        response["Cache-Control"] = "no-store"
        return response
