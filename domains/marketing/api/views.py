"""Marketing endpoints under ``/api/v1/cs-marketing/``: segments, campaigns, the marketing view of a
customer's health, and journeys. Views validate, call a service or selector, and serialize."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.exceptions import Problem
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet, PlatformViewMixin
from csintegration.ids import id_pattern
from domains.customers import selectors as customer_selectors
from domains.customers.models import Customer

from .. import selectors, services
from ..filters import CampaignFilter
from ..models import SEGMENT_KEY_PATTERN
from .serializers import (
    CAMPAIGN_ID_PREFIX,
    CampaignCreateSerializer,
    CampaignDetailSerializer,
    CampaignSerializer,
    CampaignUpdateSerializer,
    JourneyMoveSerializer,
    JourneyStatusSerializer,
    MarketingHealthSerializer,
    SegmentMemberSerializer,
    SegmentSerializer,
)

TAG = "cs-marketing"
AREA = "marketing"


def request_actor(request) -> str:
    """Who made the request, as journeys and campaigns record it: ``client:<client_id>``."""
    application = getattr(getattr(request, "auth", None), "application", None)
    return f"client:{application.client_id}" if application is not None else "client:unknown"


def _not_found(what: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=f"No such {what}")


# --- Segments -------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List segments",
        description="Named customer filters, each with its live size (all sizes of a page are counted in "
        "one SQL query over the customers).",
    ),
    retrieve=extend_schema(
        tags=[TAG], summary="Get a segment with its live size", responses={200: SegmentSerializer}
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Create a segment",
        description="A named filter in the customer list's vocabulary. An unknown filter name or a bad "
        "value is a 400 naming `filters.<name>` (`filters.any.<n>.<name>` inside a group); a key in use "
        "is a 409.",
        responses={201: SegmentSerializer, 409: OpenApiResponse(ProblemSerializer, description="Key in use")},
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Change a segment's name, description or filters",
        description="The key cannot change. Campaigns created before keep the audience and filters "
        "they were created with.",
        responses={200: SegmentSerializer},
    ),
)
class SegmentViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet
):
    scope_area = AREA
    serializer_class = SegmentSerializer
    lookup_field = "key"
    lookup_value_regex = SEGMENT_KEY_PATTERN
    ordering_fields = ("key", "name", "created_at")
    sizes: dict[str, int] | None = None

    def get_queryset(self):
        return selectors.segment_list()

    def get_object(self):
        return selectors.segment_get(key=self.kwargs["key"])

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "sizes": self.sizes or {}}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self.sizes = selectors.segment_sizes(segments=page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        segment = self.get_object()
        return self._answer(segment)

    def _answer(self, segment, code: int = status.HTTP_200_OK) -> Response:
        self.sizes = selectors.segment_sizes(segments=[segment])
        return Response(self.get_serializer(segment).data, status=code)

    def create(self, request, *args, **kwargs):
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            segment = services.segment_create(
                key=data["key"],
                name=data["name"],
                filters=data["filters"],
                description=data.get("description", ""),
            )
        except services.SegmentExists:
            raise Problem(409, "segment-exists", f"A segment with the key {data['key']} exists.") from None
        response = self._answer(segment, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{segment.key}")
        return response

    def partial_update(self, request, *args, **kwargs):
        segment = self.get_object()
        payload = self.get_serializer(segment, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        segment = services.segment_update(segment=segment, data=payload.validated_data)
        return self._answer(segment)


@extend_schema(
    tags=[TAG],
    summary="List a segment's customers",
    description="The customers the segment's filters select now (evaluated in SQL), cursor-paginated.",
    responses={200: SegmentMemberSerializer(many=True), 404: _not_found("segment")},
)
class SegmentMembersView(PlatformViewMixin, generics.ListAPIView):
    scope_area = AREA
    serializer_class = SegmentMemberSerializer
    ordering_fields = ("created_at", "health_score", "name", "arr", "engagement_score")
    filterset_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return Customer.objects.none()
        segment = selectors.segment_get(key=self.kwargs["key"])
        return selectors.segment_customers(filters=segment.filters)


# --- Campaigns ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List campaigns",
        description="Newest first; filters `status`, `campaign_type`, `trigger_type`, `created_since`. "
        "The measured impact is on each campaign's own page.",
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="Get a campaign with its measured impact",
        responses={200: CampaignDetailSerializer, 404: _not_found("campaign")},
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Create a campaign from CS signals",
        description="The seed's request. The audience is the distinct customers in the union of the "
        "named segments, resolved in SQL; they are enrolled before the answer, each with a snapshot of "
        "its health, engagement, adoption and stage, and their marketing status becomes active through "
        "`campaign_members_enrolled` events (1000 customers each). `holdout_share` of the audience is held "
        "out at random as the control group. `estimated_impact` is the interquartile range of the measured "
        "impact of finished campaigns of the same type, or the type's prior (`basis`). An unknown segment "
        "is a 400 naming `target_audience.customer_segments`.",
        request=CampaignCreateSerializer,
        responses={201: CampaignSerializer},
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Rename, reschedule or finish a campaign",
        description="`status` completed freezes the measured impact (later estimates of its type learn "
        "from it); cancelled stops it without a result. Both only from active: otherwise a 409 that lists "
        "the statuses allowed (`allowed_statuses`).",
        request=CampaignUpdateSerializer,
        responses={
            200: CampaignDetailSerializer,
            404: _not_found("campaign"),
            409: OpenApiResponse(ProblemSerializer, description="The campaign cannot take that status"),
        },
    ),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = AREA
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    ordering_fields = ("created_at", "name", "audience_size")
    lookup_field = "campaign_id"
    lookup_value_regex = id_pattern(CAMPAIGN_ID_PREFIX)

    def get_queryset(self):
        return selectors.campaign_list()

    def get_object(self):
        return selectors.campaign_get(campaign_id=self.kwargs["campaign_id"])

    def get_serializer_class(self):
        if self.action == "create":
            return CampaignCreateSerializer
        if self.action == "partial_update":
            return CampaignUpdateSerializer
        return CampaignSerializer

    def _detail(self, campaign) -> Response:
        measured = selectors.campaign_measured_impact(campaign=campaign)
        return Response(CampaignDetailSerializer(campaign, context={"measured_impact": measured}).data)

    def retrieve(self, request, *args, **kwargs):
        return self._detail(self.get_object())

    def create(self, request, *args, **kwargs):
        payload = CampaignCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            campaign = services.campaign_create(
                campaign_type=data["campaign_type"],
                trigger_type=data["trigger_type"],
                segment_keys=data["target_audience"]["customer_segments"],
                name=data.get("name"),
                holdout_share=data["holdout_share"],
                ends_at=data.get("ends_at"),
                created_by=request_actor(request),
            )
        except services.UnknownSegments as exc:
            raise ValidationError(
                {
                    "target_audience": {
                        "customer_segments": [
                            f"Unknown segments: {', '.join(exc.keys)}; GET /api/v1/cs-marketing/segments "
                            "lists them."
                        ]
                    }
                },
                code="unknown_segment",
            ) from None
        response = Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{campaign.campaign_id}"
        )
        return response

    def partial_update(self, request, *args, **kwargs):
        campaign = self.get_object()
        payload = CampaignUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        try:
            campaign = services.campaign_update(campaign=campaign, data=payload.validated_data)
        except services.CampaignTransitionNotAllowed as exc:
            raise Problem(
                409,
                "campaign-status-not-allowed",
                str(exc),
                status_now=exc.status,
                allowed_statuses=exc.allowed,
            ) from None
        return self._detail(campaign)


# --- Health and recommendations -------------------------------------------------------------------------


@extend_schema(
    tags=[TAG],
    summary="Get a customer's health with its campaign recommendations",
    responses={200: MarketingHealthSerializer, 404: _not_found("customer")},
)
class MarketingHealthView(PlatformAPIView):
    """The customer's health score, trend, risk level and lifecycle stage, and the campaigns the trigger
    rules (kept in the database, edited in the admin) recommend for it now, each with the reason it
    fired, read from the customer's stored data."""

    scope_area = AREA

    def get(self, request, customer_id: str):
        customer = customer_selectors.customer_get(customer_id=customer_id)
        recommendations = selectors.campaign_recommendations(customer=customer)
        body = {
            "customer_id": customer.customer_id,
            "health_score": customer.health_score,
            "health_trend": customer.health_trend,
            "risk_level": customer.risk_level,
            "lifecycle_stage": customer.lifecycle_stage,
            "campaign_recommendations": [asdict(recommendation) for recommendation in recommendations],
        }
        return Response(MarketingHealthSerializer(body).data)


# --- Journeys -------------------------------------------------------------------------------------------


@extend_schema(
    tags=[TAG],
    summary="Move a customer's journey to another stage",
    request=JourneyMoveSerializer,
    responses={
        200: JourneyStatusSerializer,
        404: _not_found("customer"),
        409: OpenApiResponse(
            ProblemSerializer,
            description="The journey does not allow that move from the current stage: `allowed_stages` "
            "lists the stages it allows (a retry with an Idempotency-Key still running is a 409 too)",
        ),
    },
)
class JourneyMoveView(PlatformAPIView):
    """Moves the customer to `stage` if the journey's state machine allows it from the current stage
    (docs/domains/marketing.md), recording the reason, the client that moved it and when; the customer's
    `lifecycle_stage` becomes the stage and `journey_stage_changed` is published. Answers with the
    journey's status."""

    scope_area = AREA

    def post(self, request, customer_id: str):
        payload = JourneyMoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            journey = services.journey_move(
                customer_id=customer_id,
                stage=data["stage"],
                reason=data["reason"],
                changed_by=request_actor(request),
            )
        except Customer.DoesNotExist:
            raise Problem(404, "not-found", f"Customer {customer_id} does not exist.") from None
        except services.JourneyTransitionNotAllowed as exc:
            raise Problem(
                409,
                "journey-transition-not-allowed",
                str(exc),
                current_stage=exc.from_stage,
                allowed_stages=exc.allowed,
            ) from None
        return Response(JourneyStatusSerializer(journey).data)


@extend_schema(
    tags=[TAG],
    summary="Get a customer's journey status",
    responses={200: JourneyStatusSerializer, 404: _not_found("customer")},
)
class JourneyStatusView(PlatformAPIView):
    """The current stage (the customer record's) and when it was entered, the next actions configured for
    it, the stages the journey allows next, and the history of stages, newest first."""

    scope_area = AREA

    def get(self, request, customer_id: str):
        customer = customer_selectors.customer_get(customer_id=customer_id)
        return Response(JourneyStatusSerializer(selectors.journey_status(customer=customer)).data)
