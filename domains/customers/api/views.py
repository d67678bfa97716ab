"""Customer endpoints under ``/api/v1/cs-integration/customers``."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.fields import empty
from rest_framework.response import Response

from csintegration.api.bulk import BulkAPIView, BulkItem, BulkItemResult, bulk_schema, item_error
from csintegration.api.exceptions import Problem
from csintegration.api.lean import validate_body
from csintegration.api.query import BoundedInteger
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformModelViewSet
from csintegration.ids import id_pattern

from .. import health, selectors, services
from ..filters import CustomerFilter
from ..models import Customer
from .serializers import (
    CUSTOMER_ID_PREFIX,
    MAX_BULK_RECORDS,
    MAX_SIGNAL_ITEMS,
    CustomerBulkRequestDocSerializer,
    CustomerBulkResponseSerializer,
    CustomerHealthSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    HealthChangeRequestSerializer,
    HealthChangeResponseSerializer,
    SignalsBulkItemSerializer,
    SignalsBulkRequestDocSerializer,
    SignalsBulkResponseSerializer,
    SignalsRequestSerializer,
    SignalsResponseSerializer,
)

TAG = "cs-integration"


@extend_schema_view(
    list=extend_schema(
        tags=[TAG], summary="List customers", description="Filtered, ordered, cursor-paginated."
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get a customer"),
    create=extend_schema(tags=[TAG], summary="Create a customer"),
    update=extend_schema(tags=[TAG], summary="Replace a customer"),
    partial_update=extend_schema(tags=[TAG], summary="Update some fields of a customer"),
    destroy=extend_schema(tags=[TAG], summary="Delete a customer"),
)
class CustomerViewSet(PlatformModelViewSet):
    scope_area = "customers"
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ("created_at", "updated_at", "health_score", "name", "arr")
    lookup_field = "customer_id"
    lookup_value_regex = id_pattern(CUSTOMER_ID_PREFIX)
    signature_required_actions = ("destroy",)

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return CustomerUpdateSerializer
        return CustomerSerializer

    def get_queryset(self):
        return selectors.customer_list()

    def get_object(self):
        return selectors.customer_get(customer_id=self.kwargs["customer_id"])

    def perform_create(self, serializer):
        customer_id = serializer.validated_data.pop("customer_id", None)
        try:
            serializer.instance = services.customer_create(
                data=serializer.validated_data, customer_id=customer_id
            )
        except services.CustomerExists:
            raise Problem(409, "customer-exists", f"Customer {customer_id} already exists.") from None

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{response.data['customer_id']}"
        )
        return response

    def perform_update(self, serializer):
        serializer.validated_data.pop("customer_id", None)
        try:
            serializer.instance = services.customer_update(
                customer=serializer.instance, data=serializer.validated_data
            )
        except Customer.DoesNotExist:  # deleted between the read and the write
            raise Problem(404, "not-found", f"Customer {serializer.instance.pk} does not exist.") from None

    def perform_destroy(self, instance):
        services.customer_delete(customer=instance)


@bulk_schema(
    tags=[TAG],
    summary=f"Create or update up to {MAX_BULK_RECORDS} customers",
    description=(
        "Each record is validated on its own, as for POST (an existing `customer_id` is updated with the "
        "fields it names; any other record is created and needs a `name`). The valid ones are written in "
        "one transaction, a score through the health engine. 200 when every record succeeded, 207 with "
        "per-record results when some failed."
    ),
    request=CustomerBulkRequestDocSerializer,
    response=CustomerBulkResponseSerializer,
)
class CustomerBulkView(BulkAPIView):
    scope_area = "customers"
    bulk_field, max_items, item_key = "customers", MAX_BULK_RECORDS, "customer_id"

    def get_item_serializer(self, data=empty):
        # Partial: whether a record creates (and needs a name) or updates is the service's decision.
        return CustomerSerializer(data=data, partial=True)

    def perform_bulk(self, items: list[BulkItem]) -> list[BulkItemResult]:
        return services.customer_bulk_upsert(items=items)


# --- Health ---------------------------------------------------------------------------------------------

DEFAULT_HISTORY = 20
MAX_HISTORY = 200
HISTORY_LIMIT = BoundedInteger(
    "history_limit", 0, MAX_HISTORY, DEFAULT_HISTORY, "How many recent scores to return"
)


def _signals_body(customer, outcome: health.SignalsOutcome) -> dict:
    body = selectors.customer_health(customer=customer, history_limit=0)
    health = outcome.health
    body["previous_score"] = health.previous_score if health else customer.health_score
    body["score_changed"] = bool(health and health.score_changed)
    body["stale_signals"] = outcome.stale
    return body


@extend_schema(
    tags=[TAG],
    summary="Report a customer health change",
    request=HealthChangeRequestSerializer,
    responses={
        202: OpenApiResponse(HealthChangeResponseSerializer, description="Recorded; webhooks follow"),
        404: OpenApiResponse(ProblemSerializer, description="No such customer"),
    },
)
class HealthChangeEventView(PlatformAPIView):
    """Records the score another system computed as the customer's score: the risk level (from the
    customer's scorecard bands) and the trend are recomputed, the change is kept in the health history
    and `health_score_change` is published to webhooks. `previous_score` is the score the sender
    believes current; the answer says whether the stored one matched and by how much it differed. A
    change that turns the risk high or critical, or a fall of `CHURN_DROP_POINTS` within
    `CHURN_DROP_WINDOW_DAYS`, also publishes `churn_risk_detected`. A change whose `timestamp` is older
    than the customer's latest score is kept in the history at its time but does not replace the
    current score and publishes nothing: the answer says `applied: false` with the reason."""

    required_scope = "events:write"
    rate_limit_category = "realtime"

    def post(self, request):
        data = validate_body(HealthChangeRequestSerializer, request.data)
        try:
            result = health.health_change_record(
                customer_id=data["customer_id"],
                previous_score=data["previous_score"],
                new_score=data["new_score"],
                change_reason=data["change_reason"],
                trigger_events=data["trigger_events"],
                recommended_actions=data["recommended_actions"],
                observed_at=data.get("timestamp"),
            )
        except Customer.DoesNotExist:
            raise Problem(404, "not-found", f"Customer {data['customer_id']} does not exist.") from None
        outcome, customer = result.outcome, result.customer
        body = {
            "event_id": outcome.event_id if outcome else None,
            "applied": result.applied,
            "not_applied_reason": result.not_applied_reason,
            "customer_id": customer.customer_id,
            "previous_score": result.reported_previous_score,
            "stored_previous_score": result.stored_previous_score,
            "previous_score_matched": result.previous_score_matched,
            "previous_score_difference": result.reported_previous_score - result.stored_previous_score,
            "new_score": result.snapshot.score,
            "health_score": customer.health_score,
            "health_trend": customer.health_trend,
            "risk_level": customer.risk_level,
            "previous_risk_level": outcome.previous_risk_level if outcome else customer.risk_level,
            "churn_risk_detected": bool(outcome and outcome.churn is not None),
            "churn_event_id": outcome.churn_event_id if outcome else None,
            "snapshot_id": result.snapshot.pk,
            "timestamp": result.snapshot.observed_at,
        }
        return Response(HealthChangeResponseSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=[TAG],
    summary="Get a customer's health with its breakdown and history",
    parameters=[HISTORY_LIMIT.parameter()],
    responses={200: CustomerHealthSerializer},
)
class CustomerHealthView(PlatformAPIView):
    """The current score, trend and risk level; the breakdown of the latest score computed by a scorecard
    (per measure: raw value, normalised value, weight, contribution in points, which add up to that
    score) and what changed per measure since the score before; the scorecard; the latest signals; and
    the most recent scores."""

    scope_area = "customers"
    query_parameters = (HISTORY_LIMIT.name,)

    def get(self, request, customer_id: str):
        history_limit = HISTORY_LIMIT.read(request)
        customer = selectors.customer_get(customer_id=customer_id)
        body = selectors.customer_health(customer=customer, history_limit=history_limit)
        return Response(CustomerHealthSerializer(body).data)


@extend_schema(
    tags=[TAG],
    summary="Send a customer's latest signals",
    request=SignalsRequestSerializer,
    responses={200: SignalsResponseSerializer},
)
class CustomerSignalsView(PlatformAPIView):
    """Keeps the latest value of each signal (a value observed before the stored one is not applied) and
    recomputes the customer's health at once with the scorecard that applies to it. Adoption rate,
    engagement and NPS also update the customer's success metrics. A changed score publishes
    `health_score_change`; churn risk publishes `churn_risk_detected`."""

    required_scope = "events:write"
    rate_limit_category = "realtime"

    def post(self, request, customer_id: str):
        payload = SignalsRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        selectors.customer_get(customer_id=customer_id)
        results = health.health_signals_record(
            items=[health.SignalInput(customer_id, data["signals"], data.get("observed_at"))]
        )
        if customer_id not in results:  # deleted meanwhile
            raise Problem(404, "not-found", f"Customer {customer_id} does not exist.")
        customer = selectors.customer_get(customer_id=customer_id)
        return Response(SignalsResponseSerializer(_signals_body(customer, results[customer_id])).data)


@bulk_schema(
    tags=[TAG],
    summary=f"Send the latest signals of up to {MAX_SIGNAL_ITEMS} customers",
    description=(
        "Each item is validated on its own; the valid ones are recorded and their customers' health "
        "recomputed at once, in one transaction. 200 when every item was recorded, 207 when some failed "
        "(unknown customer or invalid values)."
    ),
    request=SignalsBulkRequestDocSerializer,
    response=SignalsBulkResponseSerializer,
)
class CustomerSignalsBulkView(BulkAPIView):
    required_scope = "events:write"
    bulk_field, max_items, item_key = "items", MAX_SIGNAL_ITEMS, "customer_id"
    item_serializer_class = SignalsBulkItemSerializer

    def perform_bulk(self, items: list[BulkItem]) -> list[BulkItemResult]:
        signals = [
            health.SignalInput(item.data["customer_id"], item.data["signals"], item.data.get("observed_at"))
            for item in items
        ]
        outcomes = health.health_signals_record(items=signals)
        results = []
        for item, signal in zip(items, signals, strict=True):
            outcome = outcomes.get(signal.customer_id)
            if outcome is None:
                results.append(
                    item_error(
                        item.index, signal.customer_id, "customer_id", "not_found", "No such customer."
                    )
                )
                continue
            extra: dict = {}
            if outcome.health is not None:
                customer = outcome.health.customer
                extra = {
                    "health_score": customer.health_score,
                    "previous_score": outcome.health.previous_score,
                    "health_trend": customer.health_trend,
                    "risk_level": customer.risk_level,
                }
            extra["stale_signals"] = outcome.stale
            results.append(BulkItemResult(item.index, "recorded", signal.customer_id, extra=extra))
        return results
