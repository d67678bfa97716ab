"""The event log under ``/api/v1/cs-integration/events``."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from csintegration.api.pagination import CursorPagination
from csintegration.api.permissions import token_scopes
from csintegration.api.views import PlatformGenericViewSet

from .. import selectors
from ..filters import EventFilter
from .serializers import EventSerializer

TAG = "cs-integration"


class EventLogPagination(CursorPagination):
    ordering = ("-occurred_at", "-event_id")


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List events",
        description=(
            "The log of domain events, newest first (by `occurred_at`), cursor-paginated. Each item's "
            "`payload` is the body that subscribers and webhooks receive; `dispatched_at` is null while "
            "the event waits in the outbox. Scope `customers:read`; the log shows only the types whose "
            "read scope (`<area>:read`, see the event catalogue) the token holds."
        ),
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="Get an event",
        description="Scope `customers:read`, and the read scope of the event's type (else 404).",
    ),
)
class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = "customers"
    required_scopes = {"GET": "customers:read", "HEAD": "customers:read", "OPTIONS": "customers:read"}
    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = EventLogPagination
    # The log has one order (newest first), so no ordering parameter.
    filter_backends = (DjangoFilterBackend,)
    lookup_field = "event_id"
    lookup_value_regex = r"evt_[0-9a-z]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.event_list().none()
        return selectors.event_list(scopes=token_scopes(self.request))

    def get_object(self):
        return selectors.event_get(event_id=self.kwargs["event_id"], scopes=token_scopes(self.request))
