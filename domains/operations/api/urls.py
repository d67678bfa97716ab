"""Routes of the operations API (mounted under /api/v1/cs-ops/): workflows and their runs, automation rules,
CS tasks and the team's performance."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from .serializers import CUSTOMER_ID_PREFIX
from .views import PerformanceView, RuleViewSet, TaskViewSet, WorkflowRunViewSet, WorkflowStartView

app_name = "operations"

CUSTOMER_ID = id_path_parameter("customer_id", CUSTOMER_ID_PREFIX)

router = PlatformRouter()
router.register("workflows/runs", WorkflowRunViewSet, basename="workflow-run")
router.register("rules", RuleViewSet, basename="rule")
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = [
    re_path(rf"^workflows/{CUSTOMER_ID}/?$", WorkflowStartView.as_view(), name="workflow-start"),
    re_path(r"^performance/?$", PerformanceView.as_view(), name="performance"),
    *router.urls,
]
