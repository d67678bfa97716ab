"""Routes of the webhook API (mounted under /api/v1/cs-integration/)."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter

from .views import ENDPOINT_ID, EventTypeCatalogueView, WebhookDeliveryViewSet, WebhookEndpointViewSet

app_name = "webhooks"

router = PlatformRouter()
router.register("webhooks", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register(
    rf"webhooks/(?P<endpoint_id>{ENDPOINT_ID})/deliveries",
    WebhookDeliveryViewSet,
    basename="webhook-delivery",
)
urlpatterns = [
    re_path(r"^webhooks/event-types/?$", EventTypeCatalogueView.as_view(), name="event-types"),
    *router.urls,
]
