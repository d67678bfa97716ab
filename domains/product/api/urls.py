"""Routes of the product API (mounted under /api/v1/cs-product/): features, usage, adoption, feedback."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from ..models import FEATURE_ID_PREFIX
from .views import AdoptionView, FeatureViewSet, FeedbackViewSet, UsageBulkView, UsageViewSet

app_name = "product"

FEATURE_ID = id_path_parameter("feature_id", FEATURE_ID_PREFIX)

router = PlatformRouter()
router.register("features", FeatureViewSet, basename="feature")
router.register("usage", UsageViewSet, basename="usage")
router.register("feedback", FeedbackViewSet, basename="feedback")

urlpatterns = [
    re_path(r"^usage/bulk/?$", UsageBulkView.as_view(), name="usage-bulk"),
    re_path(rf"^adoption/{FEATURE_ID}/?$", AdoptionView.as_view(), name="adoption"),
    *router.urls,
]
