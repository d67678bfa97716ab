"""Base classes every API view derives from, so each gets the platform's machinery by default."""

from rest_framework import mixins, viewsets
from rest_framework.views import APIView

from .db_retry import ConnectionRetryMixin
from .idempotency import IdempotentPostMixin
from .query import StrictQueryParametersMixin
from .ratelimit import add_rate_limit_headers


class PlatformViewMixin(ConnectionRetryMixin, IdempotentPostMixin, StrictQueryParametersMixin):
    """What a view declares about itself: its scope area, its rate-limit category, what must be signed,
    and the query parameters it takes besides its filters, ordering and pagination (``query_parameters``;
    any other is a 400, see ``query.py``)."""

    #: ``customers``, ``marketing``, … — the method decides ``:read`` or ``:write`` (see permissions.py)
    scope_area: str | None = None
    #: ``standard``, ``realtime``, ``bulk`` or ``admin`` (CONTRACT.md §4); an ``@action`` may override it
    rate_limit_category: str = "standard"
    #: viewset actions (or, for plain views, HTTP methods) that need an RFC 9421 signature
    signature_required_actions: tuple[str, ...] = ()
    #: True for the few endpoints that need no token (health)
    public: bool = False

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_rate_limit_headers(request, response)
        return response


class PlatformAPIView(PlatformViewMixin, APIView):
    pass


class PlatformGenericViewSet(PlatformViewMixin, viewsets.GenericViewSet):
    pass


class PlatformModelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    PlatformGenericViewSet,
):
    pass
