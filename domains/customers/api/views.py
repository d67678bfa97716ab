"""Customer endpoints under ``/api/v1/cs-integration/customers``."""

from django.db import IntegrityError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.exceptions import Problem, flatten_errors
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformModelViewSet

from .. import selectors, services
from ..filters import CustomerFilter
from ..models import Customer, new_customer_id
from .serializers import (
    CustomerBulkRequestDocSerializer,
    CustomerBulkRequestSerializer,
    CustomerBulkResponseSerializer,
    CustomerHealthSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    HealthChangeRequestSerializer,
    HealthChangeResponseSerializer,
    SignalsBulkItemSerializer,
    SignalsBulkRequestDocSerializer,
    SignalsBulkRequestSerializer,
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
    lookup_value_regex = r"cust_[A-Za-z0-9_-]+"
    signature_required_actions = ("destroy", "bulk")

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
        except IntegrityError:
            raise Problem(409, "customer-exists", f"Customer {customer_id} already exists.") from None

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{response.data['customer_id']}"
        )
        return response

    def perform_update(self, serializer):
        serializer.validated_data.pop("customer_id", None)
        serializer.instance = services.customer_update(
            customer=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.customer_delete(customer=instance)

    @extend_schema(
        tags=[TAG],
        summary="Create or update up to 1000 customers",
        request=CustomerBulkRequestDocSerializer,
        responses={
            200: OpenApiResponse(CustomerBulkResponseSerializer, description="Every record succeeded"),
            207: OpenApiResponse(
                CustomerBulkResponseSerializer, description="Some records failed; the rest were kept"
            ),
        },
    )
    @action(detail=False, methods=["post"], url_path="bulk", rate_limit_category="bulk")
    def bulk(self, request):
        payload = CustomerBulkRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        records = payload.validated_data["customers"]

        given_ids = [
            record.get("customer_id") for record in records if isinstance(record.get("customer_id"), str)
        ]
        existing = selectors.customers_by_id(customer_ids=given_ids)
        creates, updates, results, seen = [], [], [], set()
        for index, record in enumerate(records):
            customer_id = record.get("customer_id")
            instance = existing.get(customer_id) if isinstance(customer_id, str) else None
            serializer = CustomerSerializer(instance=instance, data=record, partial=instance is not None)
            if not serializer.is_valid():
                results.append(
                    services.BulkRecordResult(
                        index,
                        "error",
                        customer_id if isinstance(customer_id, str) else None,
                        flatten_errors(
                            serializer.errors and ValidationError(serializer.errors).get_full_details()
                        ),
                    )
                )
                continue
            data = dict(serializer.validated_data)
            customer_id = data.pop("customer_id", None) or new_customer_id()
            if customer_id in seen:
                results.append(
                    services.BulkRecordResult(
                        index,
                        "error",
                        customer_id,
                        [
                            {
                                "field": "customer_id",
                                "code": "duplicate",
                                "message": "This id appears twice in the batch.",
                            }
                        ],
                    )
                )
                continue
            seen.add(customer_id)
            if instance is not None:
                updates.append((instance, data))
                results.append(services.BulkRecordResult(index, "updated", customer_id))
            else:
                creates.append((customer_id, data))
                results.append(services.BulkRecordResult(index, "created", customer_id))

        services.customer_bulk_upsert(creates=creates, updates=updates)
        failed = any(result.status == "error" for result in results)
        return Response(
            {"results": [result.as_dict() for result in results]},
            status=status.HTTP_207_MULTI_STATUS if failed else status.HTTP_200_OK,
        )


# --- Health ---------------------------------------------------------------------------------------------

DEFAULT_HISTORY = 20
MAX_HISTORY = 200


def _signals_body(customer, outcome: services.SignalsOutcome) -> dict:
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
    `CHURN_DROP_WINDOW_DAYS`, also publishes `churn_risk_detected`."""

    required_scope = "events:write"
    rate_limit_category = "realtime"

    def post(self, request):
        payload = HealthChangeRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        try:
            result = services.health_change_record(
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
        outcome = result.outcome
        body = {
            "event_id": outcome.event_id,
            "customer_id": result.customer.customer_id,
            "previous_score": result.reported_previous_score,
            "stored_previous_score": outcome.previous_score,
            "previous_score_matched": result.previous_score_matched,
            "previous_score_difference": result.reported_previous_score - outcome.previous_score,
            "new_score": outcome.score,
            "health_score": result.customer.health_score,
            "health_trend": result.customer.health_trend,
            "risk_level": result.customer.risk_level,
            "previous_risk_level": outcome.previous_risk_level,
            "churn_risk_detected": outcome.churn is not None,
            "churn_event_id": outcome.churn_event_id,
            "snapshot_id": outcome.snapshot.pk,
            "timestamp": outcome.snapshot.observed_at,
        }
        return Response(HealthChangeResponseSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=[TAG],
    summary="Get a customer's health with its breakdown and history",
    parameters=[
        OpenApiParameter(
            "history_limit",
            {"type": "integer", "minimum": 0, "maximum": MAX_HISTORY},
            description=f"How many recent scores to return, 0 to {MAX_HISTORY} (default {DEFAULT_HISTORY})",
        )
    ],
    responses={200: CustomerHealthSerializer},
)
class CustomerHealthView(PlatformAPIView):
    """The current score, trend and risk level; the breakdown of the latest score computed by a scorecard
    (per measure: raw value, normalised value, weight, contribution in points, which add up to that
    score) and what changed per measure since the score before; the scorecard; the latest signals; and
    the most recent scores."""

    scope_area = "customers"
    query_parameters = ("history_limit",)

    def get(self, request, customer_id: str):
        raw = request.query_params.get("history_limit", str(DEFAULT_HISTORY))
        if not raw.isdigit() or int(raw) > MAX_HISTORY:
            raise ValidationError(
                {"history_limit": [f"Must be an integer from 0 to {MAX_HISTORY}."]}, code="invalid"
            )
        customer = selectors.customer_get(customer_id=customer_id)
        body = selectors.customer_health(customer=customer, history_limit=int(raw))
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
        results = services.health_signals_record(
            items=[services.SignalInput(customer_id, data["signals"], data.get("observed_at"))]
        )
        if customer_id not in results:  # deleted meanwhile
            raise Problem(404, "not-found", f"Customer {customer_id} does not exist.")
        customer = selectors.customer_get(customer_id=customer_id)
        return Response(SignalsResponseSerializer(_signals_body(customer, results[customer_id])).data)


@extend_schema(
    tags=[TAG],
    summary="Send the latest signals of up to 1000 customers",
    request=SignalsBulkRequestDocSerializer,
    responses={
        200: OpenApiResponse(SignalsBulkResponseSerializer, description="Every item was recorded"),
        207: OpenApiResponse(
            SignalsBulkResponseSerializer, description="Some items failed; the rest were kept"
        ),
    },
)
class CustomerSignalsBulkView(PlatformAPIView):
    """Each item is validated on its own; the valid ones are recorded and their customers' health
    recomputed at once, in one transaction. Answers 200 when every item was recorded, 207 when some
    failed (unknown customer or invalid values)."""

    required_scope = "events:write"
    rate_limit_category = "bulk"
    signature_required_actions = ("POST",)

    def post(self, request):
        payload = SignalsBulkRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        results: list[dict] = []
        valid: list[tuple[int, services.SignalInput]] = []
        for index, record in enumerate(payload.validated_data["items"]):
            item = SignalsBulkItemSerializer(data=record)
            customer_id = record.get("customer_id") if isinstance(record.get("customer_id"), str) else None
            if not item.is_valid():
                errors = flatten_errors(ValidationError(item.errors).get_full_details())
                results.append(
                    {"index": index, "customer_id": customer_id, "status": "error", "errors": errors}
                )
                continue
            data = item.validated_data
            valid.append(
                (index, services.SignalInput(data["customer_id"], data["signals"], data.get("observed_at")))
            )
            results.append({"index": index, "customer_id": customer_id, "status": "recorded"})

        outcomes = services.health_signals_record(items=[signal for _, signal in valid])
        for index, signal in valid:
            outcome = outcomes.get(signal.customer_id)
            if outcome is None:
                results[index].update(
                    status="error",
                    errors=[{"field": "customer_id", "code": "not_found", "message": "No such customer."}],
                )
                continue
            customer = outcome.health.customer if outcome.health else None
            if customer is not None:
                results[index].update(
                    health_score=customer.health_score,
                    previous_score=outcome.health.previous_score,
                    health_trend=customer.health_trend,
                    risk_level=customer.risk_level,
                )
            results[index]["stale_signals"] = outcome.stale
        failed = any(result["status"] == "error" for result in results)
        return Response(
            SignalsBulkResponseSerializer({"results": results}).data,
            status=status.HTTP_207_MULTI_STATUS if failed else status.HTTP_200_OK,
        )
