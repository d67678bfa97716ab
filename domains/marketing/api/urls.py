"""Routes of the marketing API (mounted under /api/v1/cs-marketing/): segments and their members,
campaigns, the marketing view of a customer's health, and journeys."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from ..models import SEGMENT_KEY_PATTERN
from .serializers import CUSTOMER_ID_PREFIX
from .views import (
    CampaignViewSet,
    JourneyMoveView,
    JourneyStatusView,
    MarketingHealthView,
    SegmentMembersView,
    SegmentViewSet,
)

app_name = "marketing"

CUSTOMER_ID = id_path_parameter("customer_id", CUSTOMER_ID_PREFIX)

router = PlatformRouter()
router.register("segments", SegmentViewSet, basename="segment")
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = [
    re_path(
        rf"^segments/(?P<key>{SEGMENT_KEY_PATTERN})/members/?$",
        SegmentMembersView.as_view(),
        name="segment-members",
    ),
    re_path(rf"^health/{CUSTOMER_ID}/?$", MarketingHealthView.as_view(), name="customer-health"),
    re_path(rf"^journey/{CUSTOMER_ID}/status/?$", JourneyStatusView.as_view(), name="journey-status"),
    re_path(rf"^journey/{CUSTOMER_ID}/?$", JourneyMoveView.as_view(), name="journey-move"),
    *router.urls,
]
