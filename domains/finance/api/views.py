"""Finance endpoints under ``/api/v1/cs-finance/``: contracts, payments and value reports that feed the
figures; a customer's value realisation; forecasts (signed) and the platform's forecast of a period;
retention."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.datetimes import RELATIVE_TO_NOW
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet
from csintegration.ids import id_pattern
from domains.customers.models import Customer

from .. import reports, selectors, services
from ..filters import ContractFilter, PaymentFilter, ValueReportFilter
from ..periods import ANY_PERIOD_PATTERN, QUARTER_OR_MONTH_PATTERN
from .fields import QuarterOrMonthField
from .serializers import (
    CONTRACT_ID_PREFIX,
    PAYMENT_ID_PREFIX,
    VALUE_REPORT_ID_PREFIX,
    ContractSerializer,
    CustomerValueSerializer,
    ForecastPeriodSerializer,
    ForecastRequestSerializer,
    ForecastResponseSerializer,
    PaymentSerializer,
    RetentionQuerySerializer,
    RetentionSerializer,
    ValueReportDetailSerializer,
    ValueReportSerializer,
)

TAG = "cs-finance"
AREA = "finance"


def _customer(customer_id: str) -> Customer:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:  # deleted since the body was validated
        raise ValidationError({"customer_id": [f"Customer {customer_id} does not exist."]}, code="not_found")
    return customer


class FinanceRecordViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, PlatformGenericViewSet):
    # Create (201 with Location), list and retrieve; the writes go through the services.

    scope_area = AREA
    ordering_fields = ("created_at",)

    def create(self, request, *args, **kwargs):
        response = super().create(request, *args, **kwargs)
        response["Location"] = request.build_absolute_uri(
            f"{request.path.rstrip('/')}/{response.data[self.lookup_field]}"
        )
        return response

    def retrieve(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)


class PartialUpdateMixin:
    # PATCH only: a PUT would ask the client to resend what the platform computed.
    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(self.get_serializer(serializer.instance).data)


@extend_schema_view(
    list=extend_schema(
        tags=[TAG], summary="List contracts", description="Filtered, ordered, cursor-paginated."
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Record a contract",
        description="A contract is in force from `start_date` through `end_date` (inclusive); its ARR is "
        "its value annualised over the term. Contracts feed value realisation, forecasts and retention.",
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="Get a contract",
        description="One contract with its ARR and whether it is in force.",
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Correct a contract",
        description="Change `contracted_value`, `start_date` or `end_date` (an early termination moves the "
        "end date); the ARR follows. The customer cannot change.",
    ),
)
class ContractViewSet(PartialUpdateMixin, FinanceRecordViewSet):
    serializer_class = ContractSerializer
    filterset_class = ContractFilter
    ordering_fields = ("created_at", "start_date", "end_date", "contracted_value", "arr")
    lookup_field = "contract_id"
    lookup_value_regex = id_pattern(CONTRACT_ID_PREFIX)

    def get_queryset(self):
        return selectors.contract_list()

    def get_object(self):
        return selectors.contract_get(contract_id=self.kwargs["contract_id"])

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.contract_create(
            customer=_customer(data["customer_id"]),
            contracted_value=data["contracted_value"],
            start_date=data["start_date"],
            end_date=data["end_date"],
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("customer_id", None)
        serializer.instance = services.contract_update(contract=serializer.instance, data=data)


@extend_schema_view(
    list=extend_schema(
        tags=[TAG], summary="List payments", description="Filtered (`status` as of today), cursor-paginated."
    ),
    create=extend_schema(
        tags=[TAG],
        summary="Record a payment due",
        description="A payment unpaid more than `FINANCE_OVERDUE_GRACE_DAYS` (default 0) past its due date "
        "makes the customer overdue: `payment_overdue` is published and the customer's "
        "`integration_status.finance` becomes overdue in the same transaction; the health scorecard's "
        "payment measure follows. The beat job catches payments that fall due later.",
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="Get a payment",
        description="One payment with its status and days overdue as of today.",
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Pay or correct a payment",
        description="Set `paid_date` to record the payment (clear it if it bounced), or correct `amount`, "
        "`due_date` or `contract_id`. When the customer has no overdue payment left, `payments_current` "
        "is published and its finance status becomes current.",
    ),
)
class PaymentViewSet(PartialUpdateMixin, FinanceRecordViewSet):
    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter
    ordering_fields = ("created_at", "due_date", "amount")
    lookup_field = "payment_id"
    lookup_value_regex = id_pattern(PAYMENT_ID_PREFIX)

    def get_queryset(self):
        return selectors.payment_list()

    def get_object(self):
        return selectors.payment_get(payment_id=self.kwargs["payment_id"])

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.payment_create(
            customer=_customer(data["customer_id"]),
            amount=data["amount"],
            due_date=data["due_date"],
            paid_date=data.get("paid_date"),
            contract=data.get("contract"),
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("customer_id", None)
        serializer.instance = services.payment_update(payment=serializer.instance, data=data)


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="List value reports", description="Cursor-paginated."),
    create=extend_schema(
        tags=[TAG],
        summary="Record a value report",
        description="The value the customer has realised so far; the latest report is its `realized_value`. "
        "The `note` is stored encrypted and not echoed here (GET shows it).",
    ),
    retrieve=extend_schema(
        tags=[TAG], summary="Get a value report", description="One value report with its note."
    ),
)
class ValueReportViewSet(FinanceRecordViewSet):
    serializer_class = ValueReportSerializer
    filterset_class = ValueReportFilter
    ordering_fields = ("created_at", "reported_at")
    lookup_field = "value_report_id"
    lookup_value_regex = id_pattern(VALUE_REPORT_ID_PREFIX)

    def get_serializer_class(self):
        return ValueReportDetailSerializer if self.action in ("list", "retrieve") else ValueReportSerializer

    def get_queryset(self):
        return selectors.value_report_list()

    def get_object(self):
        return selectors.value_report_get(value_report_id=self.kwargs["value_report_id"])

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.value_report_create(
            customer=_customer(data["customer_id"]),
            realized_value=data["realized_value"],
            reported_at=data.get("reported_at"),
            note=data.get("note", ""),
        )


@extend_schema(
    tags=[TAG],
    summary="Get a customer's value realisation",
    responses={
        200: CustomerValueSerializer,
        404: OpenApiResponse(ProblemSerializer, description="No such customer"),
    },
)
class CustomerValueView(PlatformAPIView):
    """The seed's response: contracted and realised value with the ROI and how long the customer took to
    reach its contracted value; the revenue Customer Success kept (saves of churn-risk episodes) or grew
    (expansion); the payment status, the renewal probability from the renewal model (with its basis and
    its Brier score on held-out outcomes) and the expansion pipeline. Every figure is computed from
    stored contracts, payments, value reports, health history and, when present, the sales app."""

    scope_area = AREA

    def get(self, request, customer_id: str):
        customer = selectors.customer_get(customer_id=customer_id)
        body = reports.customer_value(customer=customer, fit=services.renewal_model_current())
        return Response(CustomerValueSerializer(body).data)


def _line_result(line, computation) -> dict:
    return {
        "customer_id": line.customer_id,
        "renewal_value": computation.renewal_value,
        "renewal_probability": line.renewal_probability,
        "expansion_value": computation.expansion_value,
        "expansion_probability": line.expansion_probability,
        "risk_adjusted_value": computation.risk_adjusted_value,
        "risk_factors": list(line.risk_factors),
    }


@extend_schema(
    tags=[TAG],
    summary="Submit a revenue forecast",
    request=ForecastRequestSerializer,
    responses={201: ForecastResponseSerializer},
)
class ForecastView(PlatformAPIView):
    """The seed's request. The forecast is stored with its lines; the server recomputes the aggregates
    from the lines and the stored contracts (each line's renewal value is the contracted value of the
    customer's contracts ending within the period) rather than trusting `aggregate_metrics`, and lists
    each submitted aggregate that differs beyond its tolerance in `discrepancies`. Periods: `q2_2026`,
    `2026-q2` or a month `2026-03`, answered in the normal form. Publishes `forecast_submitted`."""

    scope_area = AREA
    signature_required_actions = ("POST",)

    def post(self, request):
        payload = ForecastRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        lines = [
            services.ForecastLineInput(
                customer_id=line["customer_id"],
                renewal_probability=line["renewal_probability"],
                expansion_probability=line["expansion_probability"],
                expansion_value=line["expansion_value"],
                risk_factors=tuple(line["risk_factors"]),
            )
            for line in data["customer_forecasts"]
        ]
        client = getattr(getattr(request, "auth", None), "application", None)
        forecast = services.forecast_submit(
            period=data["forecast_period"],
            lines=lines,
            aggregate_metrics=dict(data.get("aggregate_metrics") or {}),
            submitted_by=getattr(client, "client_id", ""),
        )
        stored = {line.customer_id: line for line in selectors.forecast_lines(forecast=forecast)}
        body = {
            "forecast_id": forecast.forecast_id,
            "forecast_period": forecast.forecast_period,
            "period_start": forecast.period_start,
            "period_end": forecast.period_end,
            "submitted": forecast.submitted,
            "computed": forecast.computed,
            "discrepancies": forecast.discrepancies,
            "lines": [_line_result(line, stored[line.customer_id]) for line in lines],
            "submitted_at": forecast.created_at,
        }
        return Response(ForecastResponseSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=[TAG],
    summary="Get the platform's forecast of a period beside the latest submitted one",
    parameters=[
        OpenApiParameter(
            "forecast_period",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            pattern=QUARTER_OR_MONTH_PATTERN,
            description="A quarter or a month: 2026-q2, q2_2026 or 2026-03",
        )
    ],
    responses={200: ForecastPeriodSerializer},
)
class ForecastPeriodView(PlatformAPIView):
    """The platform's own forecast for the period, from its stored contracts (each customer's contracted
    value ending in the period, weighted by the renewal model's probability) and, when the sales app is
    present, the open expansion opportunities whose timeline falls in the period; the latest forecast
    submitted for the period beside it, with its calibration (the Brier score of its renewal
    probabilities against the outcomes known so far); and the period's actual renewals so far."""

    scope_area = AREA

    def get(self, request, forecast_period: str):
        try:
            period = QuarterOrMonthField().to_internal_value(forecast_period)
        except ValidationError as exc:
            raise ValidationError({"forecast_period": exc.detail}) from None
        body = reports.forecast_for_period(period=period, fit=services.renewal_model_current())
        return Response(ForecastPeriodSerializer(body).data)


@extend_schema(
    tags=[TAG],
    summary="Get revenue and logo retention of a period",
    parameters=[
        OpenApiParameter(
            "period",
            # Its first day may not lie after today (RetentionQuerySerializer.validate_period).
            {"type": "string", "pattern": ANY_PERIOD_PATTERN, RELATIVE_TO_NOW: {"latest_seconds": 0}},
            required=True,
            description="A quarter (2026-q1 or q1_2026), a month (2026-03) or a year (2026), started already "
            f"(`{RELATIVE_TO_NOW}` bounds its first day)",
        ),
        OpenApiParameter(
            "include_reactivation",
            OpenApiTypes.STR,
            enum=["true", "false"],
            description="Count reactivated customers' ARR in NRR (default true, as ChartMogul; false as "
            "Baremetrics)",
        ),
    ],
    responses={200: RetentionSerializer},
)
class RetentionView(PlatformAPIView):
    """Starting ARR, churned, contraction, expansion and reactivation ARR, GRR and NRR on ChartMogul's
    definitions, and logo retention, over the period: each customer's ARR in force on the period's first
    day is compared with its ARR on the last day (today, while the period is under way). Churn only when
    the customer has no contract left, else contraction."""

    scope_area = AREA
    query_parameters = tuple(RetentionQuerySerializer().fields)

    def get(self, request):
        query = RetentionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        body = reports.retention_report(
            period=query.validated_data["period"],
            include_reactivation=query.validated_data["include_reactivation"] == "true",
        )
        return Response(RetentionSerializer(body).data)
