"""Webhook management under ``/api/v1/cs-integration/webhooks`` (scope ``webhooks:manage``)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from csintegration.api.exceptions import Problem
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet
from csintegration.events.types import event_types

from .. import deliveries, endpoints, selectors
from ..filters import DeliveryFilter, EndpointFilter
from ..models import Delivery, WebhookEndpoint
from .serializers import (
    DeliverySerializer,
    EventTypeSerializer,
    ReplayRequestSerializer,
    ReplayResponseSerializer,
    SecretRotationSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
)

TAG = "webhooks"
ENDPOINT_ID = r"ep_[0-9a-z]+"
DELIVERY_ID = r"dlv_[0-9a-z]+"
ENDPOINT_PATH_PARAMETER = OpenApiParameter(
    "endpoint_id",
    {"type": "string", "pattern": f"^{ENDPOINT_ID}$"},
    OpenApiParameter.PATH,
    description="The endpoint's id (ep_…)",
)


def _client(request):
    return request.auth.application


def _conflict(exc: deliveries.WebhookConflict) -> Problem:
    return Problem(409, "webhook-conflict", str(exc), title="Conflict")


def _missing_scope(exc: endpoints.MissingScope) -> Problem:
    return Problem(403, "permission-denied", str(exc), title="Permission denied", scope=exc.scope)


class WebhookViewMixin:
    required_scope = "webhooks:manage"
    rate_limit_category = "admin"


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="List your webhook endpoints", description="Cursor-paginated."),
    retrieve=extend_schema(tags=[TAG], summary="Get a webhook endpoint (without its secret)"),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Change a webhook endpoint",
        description=(
            "Change `url`, `events`, `description` or `is_active`. Setting `is_active` to true re-enables "
            "an endpoint that was disabled (by a 410, by failing for days, or by hand)."
        ),
    ),
    destroy=extend_schema(tags=[TAG], summary="Delete a webhook endpoint and its deliveries"),
)
class WebhookEndpointViewSet(
    WebhookViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    PlatformGenericViewSet,
):
    serializer_class = WebhookEndpointSerializer
    filterset_class = EndpointFilter
    ordering_fields = ("created_at",)
    lookup_field = "id"
    lookup_url_kwarg = "endpoint_id"
    lookup_value_regex = ENDPOINT_ID
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return selectors.endpoint_list(client=_client(self.request))

    def get_object(self):
        return selectors.endpoint_get(client=_client(self.request), endpoint_id=self.kwargs["endpoint_id"])

    @extend_schema(
        tags=[TAG],
        summary="Register a webhook endpoint",
        description=(
            "The URL must be https and its host must resolve to public addresses only. The answer carries "
            "the endpoint's signing `secret` (`whsec_…`): it is shown only here and on rotation."
        ),
        request=WebhookEndpointSerializer,
        responses={
            201: WebhookEndpointCreateSerializer,
            403: OpenApiResponse(
                ProblemSerializer,
                description="The client lacks the read scope of a named event type (the problem names it)",
            ),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = WebhookEndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            endpoint, secret = endpoints.endpoint_create(
                client=_client(request),
                url=data["url"],
                event_types=data["event_types"],
                description=data.get("description", ""),
            )
        except endpoints.MissingScope as exc:
            raise _missing_scope(exc) from None
        endpoint.secret = secret
        body = WebhookEndpointCreateSerializer(endpoint).data
        location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{endpoint.pk}")
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})

    def perform_update(self, serializer):
        try:
            serializer.instance = endpoints.endpoint_update(
                endpoint=serializer.instance, data=serializer.validated_data
            )
        except endpoints.MissingScope as exc:
            raise _missing_scope(exc) from None

    def perform_destroy(self, instance):
        endpoints.endpoint_delete(endpoint=instance)

    @extend_schema(
        tags=[TAG],
        summary="Rotate an endpoint's signing secret",
        description=(
            "Returns the new secret, shown only now. For 24 hours deliveries carry two signatures in "
            "`webhook-signature`, space-separated: one with the new secret and one with the previous."
        ),
        request=None,
        responses={200: SecretRotationSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, endpoint_id=None):
        endpoint = self.get_object()
        secret = endpoints.endpoint_rotate_secret(endpoint=endpoint)
        body = {
            "id": endpoint.pk,
            "secret": secret,
            "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        }
        return Response(SecretRotationSerializer(body).data)

    @extend_schema(
        tags=[TAG],
        summary="Replay the failed deliveries of an endpoint since a time",
        description="Every failed delivery created at or after `since` is queued again, with a new schedule.",
        request=ReplayRequestSerializer,
        responses={
            202: ReplayResponseSerializer,
            409: OpenApiResponse(ProblemSerializer, description="The endpoint is disabled"),
        },
    )
    @action(detail=True, methods=["post"], url_path="replay")
    def replay(self, request, endpoint_id=None):
        endpoint = self.get_object()
        payload = ReplayRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            ids = deliveries.endpoint_replay_failed(endpoint=endpoint, since=payload.validated_data["since"])
        except deliveries.WebhookConflict as exc:
            raise _conflict(exc) from None
        return Response(
            ReplayResponseSerializer({"replayed": len(ids), "delivery_ids": ids}).data,
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List the deliveries of an endpoint",
        description="Newest first, cursor-paginated, each with its attempts.",
        parameters=[ENDPOINT_PATH_PARAMETER],
    ),
    retrieve=extend_schema(
        tags=[TAG], summary="Get one delivery with its attempts", parameters=[ENDPOINT_PATH_PARAMETER]
    ),
)
class WebhookDeliveryViewSet(
    WebhookViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet
):
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ("created_at",)
    lookup_field = "id"
    lookup_url_kwarg = "delivery_id"
    lookup_value_regex = DELIVERY_ID

    def endpoint(self):
        if not hasattr(self, "_endpoint"):
            self._endpoint = selectors.endpoint_get(
                client=_client(self.request), endpoint_id=self.kwargs["endpoint_id"]
            )
        return self._endpoint

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        return selectors.delivery_list(endpoint=self.endpoint())

    def get_object(self):
        return selectors.delivery_get(endpoint=self.endpoint(), delivery_id=self.kwargs["delivery_id"])

    @extend_schema(
        tags=[TAG],
        summary="Send a delivery again",
        description=(
            "Queues a new attempt of a succeeded or failed delivery, with the same `webhook-id` and body "
            "and a fresh retry schedule."
        ),
        parameters=[ENDPOINT_PATH_PARAMETER],
        request=None,
        responses={
            202: DeliverySerializer,
            409: OpenApiResponse(
                ProblemSerializer, description="The delivery is still pending, or the endpoint is disabled"
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="retry")
    def retry(self, request, endpoint_id=None, delivery_id=None):
        delivery = self.get_object()
        try:
            deliveries.delivery_replay(delivery=delivery)
        except deliveries.WebhookConflict as exc:
            raise _conflict(exc) from None
        fresh = selectors.delivery_get(endpoint=self.endpoint(), delivery_id=delivery.pk)
        return Response(DeliverySerializer(fresh).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=[TAG],
    summary="The event catalogue",
    description=(
        "Every event type a webhook endpoint may subscribe to: its name, label, area and the read scope a "
        "receiving client needs, whether it is critical, a whole example body and the JSON schema of the "
        "body. `readable` says whether the calling client holds the scope."
    ),
    responses={200: EventTypeSerializer(many=True)},
)
class EventTypeCatalogueView(WebhookViewMixin, PlatformAPIView):
    def get(self, request):
        scopes = endpoints.client_scopes(_client(request))
        entries = [
            {
                "name": event_type.name,
                "label": event_type.label,
                "description": event_type.description or event_type.label,
                "area": event_type.area,
                "read_scope": event_type.read_scope,
                "critical": event_type.critical,
                "readable": event_type.read_scope in scopes,
                "example_body": event_type.example_body(),
                "body_schema": event_type.body_schema(),
                "openapi_component": f"#/components/schemas/{event_type.schema_component_name}",
            }
            for event_type in event_types()
        ]
        return Response(EventTypeSerializer(entries, many=True).data)
