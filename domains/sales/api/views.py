"""Sales endpoints under ``/api/v1/cs-sales/``: the signed handoff, opportunities, milestones and
expansion readiness."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.exceptions import Problem
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet
from csintegration.ids import id_pattern
from domains.customers import selectors as customer_selectors
from domains.customers.models import Customer

from .. import selectors, services
from ..filters import MilestoneFilter, OpportunityFilter
from .serializers import (
    MILESTONE_ID_PREFIX,
    OPPORTUNITY_ID_PREFIX,
    ExpansionSerializer,
    HandoffRequestSerializer,
    HandoffResponseSerializer,
    MilestoneSerializer,
    OpportunitySerializer,
)

TAG = "cs-sales"


def _caller(request) -> str:
    """Who made the call: the OAuth client of the token."""
    application = getattr(getattr(request, "auth", None), "application", None)
    return getattr(application, "client_id", "") or ""


def _unknown_customer(customer_id: str) -> Problem:
    return Problem(404, "not-found", f"Customer {customer_id} does not exist.")


def _body_customer_missing(customer_id: str) -> ValidationError:
    return ValidationError(
        {"customer_id": [f"Customer {customer_id} does not exist."]}, code="does_not_exist"
    )


class HandoffView(PlatformAPIView):
    scope_area = "sales"
    signature_required_actions = ("POST",)

    @extend_schema(
        tags=[TAG],
        summary="Complete the sales-to-CS handoff of a customer",
        description=(
            "The seed's request. Records the handoff (the stakeholders' e-mails and the sales notes are "
            "stored encrypted and never answered or published), snapshots the customer's baseline (health "
            "score, trend, risk, adoption, engagement, NPS, ARR as stored now), creates the success plan "
            "(onboarding from `onboarding_start`, the success manager, tasks with due dates: kick-off, "
            "first check-in, success review; the success criteria as goals) and publishes "
            "`handoff_completed`. When the request commits, the customer is `integration_status.sales` "
            "handed_off, in `lifecycle_stage` onboarding, with the named `success_manager`. A `customer_id` "
            "in the body must be the path's. One handoff per customer: a second is a 409."
        ),
        request=HandoffRequestSerializer,
        responses={
            201: HandoffResponseSerializer,
            404: OpenApiResponse(ProblemSerializer, description="No such customer"),
            409: OpenApiResponse(
                ProblemSerializer,
                description="The customer was handed off already (or the Idempotency-Key is in use)",
            ),
        },
    )
    def post(self, request, customer_id: str):
        payload = HandoffRequestSerializer(data=request.data, context={"customer_id": customer_id})
        payload.is_valid(raise_exception=True)
        data, initiation = (
            payload.validated_data["handoff_data"],
            payload.validated_data["success_initiation"],
        )
        try:
            handoff = services.handoff_complete(
                customer_id=customer_id,
                deal_value=data["deal_value"],
                contract_terms=data["contract_terms"],
                key_stakeholders=data["key_stakeholders"],
                success_criteria=data["success_criteria"],
                sales_notes=data["sales_notes"],
                onboarding_start=initiation["onboarding_start"],
                success_manager=initiation["success_manager"],
                first_check_in=initiation["first_check_in"],
                handed_off_by=_caller(request),
            )
        except Customer.DoesNotExist:
            raise _unknown_customer(customer_id) from None
        except services.HandoffExists:
            existing = selectors.handoff_for_customer(customer_id=customer_id)
            raise Problem(
                409,
                "handoff-exists",
                f"Customer {customer_id} was handed off already.",
                handoff_id=existing.handoff_id if existing else None,
            ) from None
        body = selectors.handoff_body(selectors.handoff_for_customer(customer_id=handoff.customer_id))
        response = Response(HandoffResponseSerializer(body).data, status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(request.path.rstrip("/"))
        return response

    @extend_schema(
        tags=[TAG],
        summary="Get a customer's handoff with its success plan and baseline",
        description="The handoff as the POST answered it, with the tasks' and goals' current status.",
        responses={
            200: HandoffResponseSerializer,
            404: OpenApiResponse(ProblemSerializer, description="No such customer, or not handed off"),
        },
    )
    def get(self, request, customer_id: str):
        customer_selectors.customer_get(customer_id=customer_id)
        handoff = selectors.handoff_for_customer(customer_id=customer_id)
        if handoff is None:
            raise Problem(404, "not-found", f"Customer {customer_id} has not been handed off.")
        return Response(HandoffResponseSerializer(selectors.handoff_body(handoff)).data)


@extend_schema(
    tags=[TAG],
    summary="Get a customer's expansion readiness, opportunities and success evidence",
    description=(
        "The seed's response. `expansion_readiness.score` (0 to 100) is the active readiness model's "
        "weighted score of the customer's stored adoption, health, engagement, NPS, trend and recent "
        "milestones, computed now; `readiness_factors` (the seed's list of names) are the factors that "
        "contributed most, and `factor_points` their points; `breakdown` shows every factor. "
        "`opportunities` are the open ones, `success_evidence` the milestones reached. Reading this "
        "publishes nothing: `expansion_ready` follows the evaluations made when the inputs change."
    ),
    responses={
        200: ExpansionSerializer,
        404: OpenApiResponse(ProblemSerializer, description="No such customer"),
    },
)
class ExpansionView(PlatformAPIView):
    scope_area = "sales"

    def get(self, request, customer_id: str):
        customer = customer_selectors.customer_get(customer_id=customer_id)
        return Response(ExpansionSerializer(selectors.customer_expansion(customer=customer)).data)


def _created(request, body: dict, key: str) -> Response:
    response = Response(body, status=status.HTTP_201_CREATED)
    response["Location"] = request.build_absolute_uri(f"{request.path.rstrip('/')}/{body[key]}")
    return response


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List opportunities",
        description="Newest first, cursor-paginated; filters by customer, status, type and timeline period.",
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get an opportunity"),
    create=extend_schema(
        tags=[TAG],
        summary="Record an expansion opportunity",
        description=(
            "Open by default (or recorded already won or lost). Publishes `opportunity_created` (and "
            "`opportunity_won`/`opportunity_lost` when created closed). An unknown customer is a 400 "
            "naming `customer_id`."
        ),
        responses={201: OpportunitySerializer},
    ),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Change or close an opportunity",
        description=(
            "`status` won or lost closes an open opportunity (`opportunity_won`/`opportunity_lost`); the "
            "state machine is open → won | lost, and a closed opportunity does not change: a 409 that "
            "lists `allowed_statuses`."
        ),
        responses={
            200: OpportunitySerializer,
            409: OpenApiResponse(ProblemSerializer, description="Closed, or a transition not allowed"),
        },
    ),
)
class OpportunityViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PlatformGenericViewSet
):
    scope_area = "sales"
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityFilter
    ordering_fields = ("created_at", "value_estimate", "probability", "timeline_start")
    lookup_field = "opportunity_id"
    lookup_value_regex = id_pattern(OPPORTUNITY_ID_PREFIX)

    def get_queryset(self):
        return selectors.opportunity_list()

    def get_object(self):
        return selectors.opportunity_get(opportunity_id=self.kwargs["opportunity_id"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            opportunity = services.opportunity_create(
                customer_id=data["customer_id"],
                type=data["type"],
                product=data["product"],
                value_estimate=data["value_estimate"],
                probability=data["probability"],
                timeline=data["timeline"],
                status=data.get("status", "open"),
            )
        except Customer.DoesNotExist:
            raise _body_customer_missing(data["customer_id"]) from None
        return _created(request, self.get_serializer(opportunity).data, "opportunity_id")

    def partial_update(self, request, *args, **kwargs):
        opportunity = self.get_object()
        serializer = self.get_serializer(opportunity, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.pop("customer_id", None)
        try:
            opportunity = services.opportunity_update(opportunity=opportunity, data=data)
        except services.OpportunityTransitionNotAllowed as exc:
            raise Problem(
                409,
                "transition-not-allowed",
                f"An opportunity that is {exc.current} cannot become {exc.requested}"
                + (f"; allowed: {', '.join(exc.allowed)}." if exc.allowed else "; it is closed."),
                allowed_statuses=exc.allowed,
            ) from None
        except services.OpportunityClosed as exc:
            raise Problem(
                409,
                "opportunity-closed",
                f"The opportunity is {exc.status}: a closed opportunity does not change.",
                allowed_statuses=[],
            ) from None
        return Response(self.get_serializer(opportunity).data)


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List success milestones",
        description="Most recently reached first, cursor-paginated; filters by customer, kind and time.",
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get a success milestone"),
    create=extend_schema(
        tags=[TAG],
        summary="Record a success milestone",
        description=(
            "Each kind is reached once per customer (a second is a 409). It achieves the success-plan "
            "goals it matches (`achieved_roi_target` achieves `roi_target`), counts towards the "
            "readiness model's milestones factor, and publishes `milestone_achieved`; the customer's "
            "readiness is re-evaluated at once (which may publish `expansion_ready`)."
        ),
        responses={
            201: MilestoneSerializer,
            409: OpenApiResponse(ProblemSerializer, description="Reached already"),
        },
    ),
)
class MilestoneViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, PlatformGenericViewSet
):
    scope_area = "sales"
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter
    ordering_fields = ("created_at", "achieved_at")
    lookup_field = "milestone_id"
    lookup_value_regex = id_pattern(MILESTONE_ID_PREFIX)

    def get_queryset(self):
        return selectors.milestone_list()

    def get_object(self):
        return selectors.milestone_get(milestone_id=self.kwargs["milestone_id"])

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            milestone = services.milestone_record(
                customer_id=data["customer_id"],
                milestone=data["milestone"],
                achieved_at=data.get("achieved_at"),
                note=data.get("note", ""),
                recorded_by=_caller(request),
            )
        except Customer.DoesNotExist:
            raise _body_customer_missing(data["customer_id"]) from None
        except services.MilestoneExists:
            raise Problem(
                409,
                "milestone-exists",
                f"Customer {data['customer_id']} has reached {data['milestone']} already.",
            ) from None
        return _created(request, self.get_serializer(milestone).data, "milestone_id")
