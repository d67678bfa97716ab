"""Operations endpoints under ``/api/v1/cs-ops``: workflows and their runs, rules, CS tasks, performance."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from csintegration.api.exceptions import Problem
from csintegration.api.query import BoundedInteger
from csintegration.api.schema import ProblemSerializer
from csintegration.api.views import PlatformAPIView, PlatformGenericViewSet
from csintegration.ids import id_pattern
from domains.customers.models import Customer

from .. import selectors, services
from ..filters import RuleFilter, TaskFilter, WorkflowRunFilter
from ..models import RunTrigger
from ..services.tasks import UNSET
from .serializers import (
    PerformanceSerializer,
    RuleSerializer,
    TaskSerializer,
    TaskUpdateSerializer,
    WorkflowRequestSerializer,
    WorkflowRunSerializer,
)

TAG = "cs-ops"
DEFAULT_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365
WINDOW_DAYS = BoundedInteger(
    "window_days", 1, MAX_WINDOW_DAYS, DEFAULT_WINDOW_DAYS, "The window, in days up to now"
)


def _client_id(request) -> str:
    application = getattr(getattr(request, "auth", None), "application", None)
    return getattr(application, "client_id", "") or ""


@extend_schema(
    tags=[TAG],
    summary="Start a workflow for a customer",
    request=WorkflowRequestSerializer,
    responses={
        202: OpenApiResponse(WorkflowRunSerializer, description="The run is queued; its steps follow"),
        404: OpenApiResponse(ProblemSerializer, description="No such customer"),
    },
)
class WorkflowStartView(PlatformAPIView):
    """The seed's workflow request. Starts a durable run of the `workflow_type`'s template: each step runs
    as its own task, is retried with backoff when it fails, survives a lost worker and is never repeated
    once it succeeded. `automation_steps` names the steps to run in order (each with the parameters of
    the template's step of the same action); without it the template's steps run. An unknown step, or one
    whose app is not installed (`trigger_campaign`, `move_journey_stage` without marketing), is a 400
    naming `automation_steps.N`. `trigger_conditions` are recorded with the run. Follow the run at
    `GET /workflows/runs/{run_id}`; it publishes `workflow_completed` or `workflow_failed`."""

    scope_area = "operations"

    def post(self, request, customer_id: str):
        payload = WorkflowRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if data.get("customer_id") not in (None, customer_id):
            raise ValidationError({"customer_id": ["Differs from the customer in the path."]})
        try:
            run = services.workflow_run_start(
                customer_id=customer_id,
                workflow_type=data["workflow_type"],
                step_names=data.get("automation_steps"),
                trigger_conditions=data["trigger_conditions"],
                triggered_by=RunTrigger.API,
                requested_by=_client_id(request),
            )
        except services.UnknownWorkflowType:
            raise ValidationError(
                {"workflow_type": [f"No active workflow template {data['workflow_type']!r}."]}
            ) from None
        except services.UnknownStep as unknown:
            raise ValidationError({"automation_steps": {unknown.index: [unknown.reason]}}) from None
        except services.InvalidStepParams as invalid:
            raise ValidationError(
                {"automation_steps": {invalid.index: [f"{invalid.name}: {invalid}"]}}
            ) from None
        except Customer.DoesNotExist:
            raise Problem(404, "not-found", f"Customer {customer_id} does not exist.") from None
        run = selectors.run_get(run_id=run.run_id)
        response = Response(WorkflowRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = request.build_absolute_uri(f"/api/v1/cs-ops/workflows/runs/{run.run_id}")
        return response


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List workflow runs",
        description="Newest first, cursor-paginated, each with its steps.",
    ),
    retrieve=extend_schema(
        tags=[TAG],
        summary="Get a workflow run",
        description="The run's status (queued, running, completed, failed) and each step's status, attempts, "
        "timing, output and error.",
    ),
)
class WorkflowRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = "operations"
    serializer_class = WorkflowRunSerializer
    filterset_class = WorkflowRunFilter
    ordering_fields = ("created_at", "finished_at")
    lookup_field = "run_id"
    lookup_value_regex = id_pattern("run")

    def get_queryset(self):
        return selectors.run_list()

    def get_object(self):
        return selectors.run_get(run_id=self.kwargs["run_id"])


@extend_schema_view(
    list=extend_schema(
        tags=[TAG],
        summary="List the automation rules",
        description="Each rule's event type, conditions and action, read-only here (they are edited in the "
        "admin, which checks them on save). Rules run on every event of their type, in the transaction "
        "that published it.",
    ),
    retrieve=extend_schema(tags=[TAG], summary="Get an automation rule"),
)
class RuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = "operations"
    serializer_class = RuleSerializer
    filterset_class = RuleFilter
    ordering_fields = ("position", "name", "created_at")
    lookup_field = "rule_id"
    lookup_value_regex = id_pattern("rule")

    def get_queryset(self):
        return selectors.rule_list()

    def get_object(self):
        return selectors.rule_get(rule_id=self.kwargs["rule_id"])


@extend_schema_view(
    list=extend_schema(tags=[TAG], summary="List CS tasks", description="Cursor-paginated, newest first."),
    retrieve=extend_schema(tags=[TAG], summary="Get a CS task"),
    partial_update=extend_schema(
        tags=[TAG],
        summary="Update or close a CS task",
        description='`{"status": "done", "satisfaction": 5}` closes a task with the customer\'s '
        "satisfaction (1 to 5); `in_progress` and `cancelled` are the other statuses. `assignee` reassigns "
        "it to an active success manager, `due_at` moves it. A transition the task's state machine does "
        "not allow (a closed task reopened) is a 409 that lists the allowed statuses. Closing publishes "
        "`task_completed`; closing the customer's last escalated task publishes `escalation_resolved`.",
        request=TaskUpdateSerializer,
        responses={200: TaskSerializer},
    ),
)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PlatformGenericViewSet):
    scope_area = "operations"
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ("created_at", "due_at", "completed_at")
    lookup_field = "task_id"
    lookup_value_regex = id_pattern("task")
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.task_list()

    def get_object(self):
        return selectors.task_get(task_id=self.kwargs["task_id"])

    def partial_update(self, request, task_id: str):
        body = TaskUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        selectors.task_get(task_id=task_id)
        try:
            services.task_update(
                task_id=task_id,
                status=data.get("status"),
                satisfaction=data.get("satisfaction", UNSET),
                assignee_email=data.get("assignee", UNSET),
                due_at=data.get("due_at"),
                actor=_client_id(request),
            )
        except services.TaskTransitionNotAllowed as refused:
            raise Problem(
                409,
                "transition-not-allowed",
                f"{refused} Allowed: {', '.join(refused.allowed) or 'none (the task is closed)'}.",
                allowed=refused.allowed,
            ) from None
        except services.SatisfactionNotAllowed:
            raise Problem(
                409, "task-not-done", "A satisfaction score is given when the task is (or becomes) done."
            ) from None
        except services.UnknownManager:
            raise ValidationError({"assignee": ["No active success manager has this address."]}) from None
        return Response(TaskSerializer(selectors.task_get(task_id=task_id)).data)


@extend_schema(
    tags=[TAG],
    summary="CS operational performance",
    parameters=[WINDOW_DAYS.parameter()],
    responses={200: PerformanceSerializer},
)
class PerformanceView(PlatformAPIView):
    """The seed's response, every figure computed from the stored runs, tasks and team over the window
    `[now - window_days, now)` (load figures at its end). A figure with nothing to measure is null.
    `optimization_opportunities` come from rules on the figures. A snapshot is kept daily (admin)."""

    scope_area = "operations"
    query_parameters = (WINDOW_DAYS.name,)

    def get(self, request):
        figures = selectors.team_performance(window_days=WINDOW_DAYS.read(request))
        return Response(PerformanceSerializer(figures).data)
