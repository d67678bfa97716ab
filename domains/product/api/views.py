"""Product endpoints under ``/api/v1/cs-product``: features, usage (single and bulk), the adoption report
and feedback with its delivery workflow."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.bulk import BulkAPIView, BulkItem, BulkItemResult, bulk_schema
from csintegration.api.exceptions import Problem
from csintegration.api.query import BoundedInteger
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet
from csintegration.ids import id_pattern
from domains.customers.models import Customer

from .. import selectors, services
from ..conf import conf
from ..filters import FeatureFilter, FeedbackFilter, UsageFilter
from ..models import FEATURE_ID_PREFIX, FEEDBACK_ID_PREFIX
from .serializers import (
    MAX_BULK_USAGE,
    SEGMENT_CHOICES,
    AdoptionReportSerializer,
    FeatureSerializer,
    FeedbackDetailSerializer,
    FeedbackRequestSerializer,
    FeedbackSerializer,
    FeedbackUpdateSerializer,
    UsageBulkRequestSerializer,
    UsageBulkResponseSerializer,
    UsageResultSerializer,
    UsageRowSerializer,
    UsageSerializer,
)

TAG = "cs-product"


def actor_of(request) -> str:
    """Who acts: the OAuth client's id (or the token's user, for a user-facing app)."""
    token = getattr(request, "auth", None)
    application = getattr(token, "application", None)
    user = getattr(token, "user", None)
    if user is not None and getattr(user, "username", ""):
        return f"user:{user.username}"
    return getattr(application, "client_id", "") or "unknown"


# --- Features ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="List features", description="Cursor-paginated, by name."),
    create=extend_schema(
        tags=[TAG],
        summary="Create a feature",
        description="A customer has adopted the feature when its usage over the last `window_days` days "
        "(default 30, today included, UTC) reaches `adoption_threshold` (default 1). An active feature "
        "enters every customer's adoption rate, recomputed in the background.",
        responses={201: FeatureSerializer},
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get a feature"),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Update a feature",
        description="A new `adoption_threshold` recomputes the feature's adoption from the stored usage in "
        "the background (`recomputing` is true until then); a new window or activity recomputes adoption "
        "rates.",
    ),
)
class FeatureViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet
):
    scope_area = "product"
    serializer_class = FeatureSerializer
    filterset_class = FeatureFilter
    ordering = ("name", "feature_id")
    ordering_fields = ("name", "created_at")
    lookup_field = "feature_id"
    lookup_value_regex = id_pattern(FEATURE_ID_PREFIX)

    def get_queryset(self):
        return selectors.feature_list()

    def get_object(self):
        return selectors.feature_get(feature_id=self.kwargs["feature_id"])

    def perform_create(self, serializer):
        feature_id = serializer.validated_data.pop("feature_id", None)
        try:
            serializer.instance = services.feature_create(
                data=serializer.validated_data, feature_id=feature_id
            )
        except services.FeatureExists:
            raise Problem(409, "feature-exists", f"Feature {feature_id} already exists.") from None

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{response.data['feature_id']}"
        )
        return response

    def partial_update(self, request, *args, **kwargs):
        feature = self.get_object()
        serializer = FeatureSerializer(feature, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.validated_data.pop("feature_id", None)
        updated = services.feature_update(feature=feature, data=serializer.validated_data)
        return Response(FeatureSerializer(updated).data)


# --- Usage -------------------------------------------------------------------------------------------

NOT_FOUND_BODY = OpenApiResponse(ProblemSerializer, description="No such customer or feature")


def _usage_input(index: int, data: dict) -> services.UsageInput:
    return services.UsageInput(index, data["customer_id"], data["feature_id"], data["date"], data["count"])


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List daily usage",
        description="One row per customer, feature and day, newest day first.",
        responses={200: UsageRowSerializer(many=True)},
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Record one customer's usage of one feature on one day",
        description="Sending the same customer, feature and day again replaces its count (200; 201 when "
        "the day is new). The customer's adoption of the feature and its adoption rate are recomputed at "
        "once; the rate goes to the health engine as the `adoption_rate` signal (its health score follows "
        "when a scorecard weighs adoption), and a first adoption publishes `feature_adopted`.",
        request=UsageSerializer,
        responses={
            201: OpenApiResponse(UsageResultSerializer, description="A new day"),
            200: OpenApiResponse(UsageResultSerializer, description="The day's count was replaced"),
            404: NOT_FOUND_BODY,
        },
    ),
)
class UsageViewSet(mixins.ListModelMixin, PlatformGenericViewSet):
    scope_area = "product"
    serializer_class = UsageRowSerializer
    filterset_class = UsageFilter
    ordering = ("-date", "-id")
    ordering_fields = ("date",)

    def get_queryset(self):
        return selectors.usage_list()

    def create(self, request):
        payload = UsageSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        [result] = services.usage_record_many(items=[_usage_input(0, payload.validated_data)])
        if result.status == services.ERROR:
            error = result.errors[0]
            raise Problem(
                404,
                "not-found",
                f"{'Customer' if error['field'] == 'customer_id' else 'Feature'} "
                f"{getattr(result, error['field'])} does not exist.",
            )
        body = UsageResultSerializer(result).data
        created = result.status == services.CREATED
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@bulk_schema(
    tags=[TAG],
    summary=f"Record up to {MAX_BULK_USAGE} daily usage counts",
    description=(
        "Each item is validated on its own, as for POST /usage (a customer, feature and day sent again "
        "replaces its count; the same one twice in a request is an error on its second item). The valid "
        "ones are written in one transaction with their customers' adoption, adoption rates (one pass of "
        "the health engine) and `feature_adopted` events. 200 when every item was recorded, 207 with "
        "per-item results when some failed."
    ),
    request=UsageBulkRequestSerializer,
    response=UsageBulkResponseSerializer,
)
class UsageBulkView(BulkAPIView):
    scope_area = "product"
    bulk_field, max_items, item_key = "items", MAX_BULK_USAGE, "customer_id"
    item_serializer_class = UsageSerializer

    def perform_bulk(self, items: list[BulkItem]) -> list[BulkItemResult]:
        results = services.usage_record_many(items=[_usage_input(item.index, item.data) for item in items])
        return [
            BulkItemResult(
                result.index,
                result.status,
                result.customer_id,
                result.errors,
                extra={"feature_id": result.feature_id, "date": result.date.isoformat()}
                | (
                    {}
                    if result.status == services.ERROR
                    else {"adopted": result.adopted, "adoption_rate": result.adoption_rate}
                ),
            )
            for result in results
        ]


# --- Adoption ----------------------------------------------------------------------------------------


def _report_body(report: selectors.AdoptionReport) -> dict:
    figures, previous = report.figures, report.previous
    return {
        "feature_id": report.feature.feature_id,
        "segment": report.segment,
        "adoption_metrics": {
            "overall_adoption": _rounded(figures.overall_adoption),
            "segment_adoption": {name: _rounded(share) for name, share in figures.segment_adoption.items()},
            "customers": figures.customers,
            "adopters": figures.adopters,
            "segment_customers": figures.segment_customers,
            "window_days": report.window_days,
            "adoption_threshold": report.feature.adoption_threshold,
            "as_of": report.as_of,
            "previous_window": None
            if previous is None
            else {
                "day": previous.day,
                "overall_adoption": _rounded(previous.share),
                "customers": previous.customers,
            },
        },
        "success_correlation": {
            "adoption_success_link": _rounded(figures.adoption_success_link),
            "health_impact": report.health_impact,
            "retention_correlation": _rounded(figures.retention_correlation),
            "customers": figures.retention_customers,
            "churned_customers": figures.churned_customers,
        },
        "improvement_opportunities": report.insights.labels,
        "opportunity_reasons": [
            {
                "opportunity": found.opportunity,
                "rule": found.rule,
                "segment": found.segment,
                "value": round(found.value, 4),
                "threshold": found.threshold,
            }
            for found in report.insights.opportunities
        ],
        "recomputing": report.feature.recomputing,
        "customers_synced_until": report.customers_synced_until,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


#: the adoption window asked for, instead of the feature's own
WINDOW_DAYS = BoundedInteger(
    "window_days", 1, conf.PRODUCT_MAX_WINDOW_DAYS, description="The window in days (default: the feature's)"
)


def _segment(raw: str | None) -> str | None:
    if raw is None:
        return None
    if raw not in SEGMENT_CHOICES:
        raise ValidationError(
            {"segment": [f"Use one of {', '.join(SEGMENT_CHOICES)}."]}, code="invalid_choice"
        )
    return raw


@extend_schema(
    tags=[TAG],
    summary="Adoption of a feature by segment, and how it goes with health and retention",
    parameters=[
        OpenApiParameter(
            "segment",
            OpenApiTypes.STR,
            enum=list(SEGMENT_CHOICES),
            description="Only this segment's customers (default: all)",
        ),
        WINDOW_DAYS.parameter(),
    ],
    responses={200: AdoptionReportSerializer},
)
class AdoptionView(PlatformAPIView):
    """The seed's response over the non-churned customers: the share that adopted the feature over the
    window (overall and per segment), the Pearson correlations of adoption with health score and with
    retention, the health-impact band and the improvement opportunities from documented rules.

    Computed from aggregates the usage writes keep current (counts, sums, sums of squares and products by
    segment and churn state), so it costs a fixed number of queries whatever the number of customers.
    Changes of customers' health, segment or stage reach it within PRODUCT_PROFILE_SYNC_INTERVAL_SECONDS
    (see `customers_synced_until`)."""

    scope_area = "product"
    query_parameters = ("segment", WINDOW_DAYS.name)

    def get(self, request, feature_id: str):
        window_days = WINDOW_DAYS.read(request)
        segment = _segment(request.query_params.get("segment"))
        feature = selectors.feature_get(feature_id=feature_id)
        report = selectors.adoption_report(feature=feature, window_days=window_days, segment=segment)
        return Response(AdoptionReportSerializer(_report_body(report)).data)


# --- Feedback ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List feedback",
        description="Newest first; `ordering=-priority_score` ranks the most valuable first (with "
        "`open=true`, the open requests across customers).",
        responses={200: FeedbackDetailSerializer(many=True)},
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Submit customer feedback",
        description="The seed's request. The answer has `feedback_id`, `priority_score` (with its "
        "breakdown) and `status` (`new`), not the description: it is stored encrypted, and the answer may "
        "be kept for Idempotency-Key replays. Publishes `feedback_submitted`.",
        request=FeedbackRequestSerializer,
        responses={
            201: FeedbackSerializer,
            404: OpenApiResponse(ProblemSerializer, description="No such customer"),
        },
    ),
    retrieve=extend_schema(
        tags=[TAG], summary="Get a feedback with its description", responses={200: FeedbackDetailSerializer}
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Move a feedback through its workflow, or commit it to a release",
        description="A status the workflow does not allow from the current one is a 409 that lists the "
        "allowed ones; planning needs a `committed_release`; a release in a status that keeps none is a "
        "409. Publishes `feedback_status_changed` when the status moves, `feedback_commitment_changed` "
        "when only the release changes.",
        request=FeedbackUpdateSerializer,
        responses={
            200: FeedbackDetailSerializer,
            409: OpenApiResponse(ProblemSerializer, description="Not allowed from the current status"),
        },
    ),
)
class FeedbackViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = "product"
    serializer_class = FeedbackDetailSerializer
    filterset_class = FeedbackFilter
    ordering = ("-created_at", "-feedback_id")
    ordering_fields = ("priority_score", "created_at")
    lookup_field = "feedback_id"
    lookup_value_regex = id_pattern(FEEDBACK_ID_PREFIX)

    def get_queryset(self):
        return selectors.feedback_list()

    def get_object(self):
        return selectors.feedback_get(feedback_id=self.kwargs["feedback_id"])

    def create(self, request):
        payload = FeedbackRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        customer = Customer.objects.filter(pk=data["customer_id"]).first()
        if customer is None:
            raise Problem(404, "not-found", f"Customer {data['customer_id']} does not exist.")
        feedback = services.feedback_submit(
            customer=customer,
            data={**data["feedback"], "success_context": data.get("success_context") or {}},
            submitted_by=actor_of(request),
        )
        response = Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{feedback.feedback_id}"
        )
        return response

    def partial_update(self, request, *args, **kwargs):
        feedback = self.get_object()
        payload = FeedbackUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        options = {"committed_release": data["committed_release"]} if "committed_release" in data else {}
        try:
            updated = services.feedback_update(
                feedback=feedback, actor=actor_of(request), status=data.get("status"), **options
            )
        except services.TransitionRefused as refused:
            allowed = ", ".join(refused.allowed) or "none: the status is final"
            raise Problem(
                409,
                "transition-not-allowed",
                f"A feedback cannot move from {refused.current} to {refused.requested}; allowed: {allowed}.",
                current_status=refused.current,
                allowed_statuses=refused.allowed,
            ) from None
        except services.CommitmentRefused as refused:
            if refused.required:
                raise ValidationError({"committed_release": [str(refused)]}, code="required") from None
            raise Problem(409, "commitment-not-allowed", str(refused)) from None
        return Response(FeedbackDetailSerializer(updated).data)
