"""Routes of the sales API (mounted under /api/v1/cs-sales/): the handoff, expansion readiness,
opportunities and milestones."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from .serializers import CUSTOMER_ID_PREFIX
from .views import ExpansionView, HandoffView, MilestoneViewSet, OpportunityViewSet

app_name = "sales"

CUSTOMER_ID = id_path_parameter("customer_id", CUSTOMER_ID_PREFIX)

router = PlatformRouter()
router.register("opportunities", OpportunityViewSet, basename="opportunity")
router.register("milestones", MilestoneViewSet, basename="milestone")

urlpatterns = [
    re_path(rf"^handoff/{CUSTOMER_ID}/?$", HandoffView.as_view(), name="handoff"),
    re_path(rf"^expansion/{CUSTOMER_ID}/?$", ExpansionView.as_view(), name="expansion"),
    *router.urls,
]
