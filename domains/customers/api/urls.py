"""Routes of the customer API (mounted under /api/v1/cs-integration/): customers, their health and
signals, and the health-change event."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from .serializers import CUSTOMER_ID_PREFIX
from .views import (
    CustomerBulkView,
    CustomerHealthView,
    CustomerSignalsBulkView,
    CustomerSignalsView,
    CustomerViewSet,
    HealthChangeEventView,
)

app_name = "customers"

CUSTOMER_ID = id_path_parameter("customer_id", CUSTOMER_ID_PREFIX)

router = PlatformRouter()
router.register("customers", CustomerViewSet, basename="customer")
urlpatterns = [
    re_path(r"^events/health-change/?$", HealthChangeEventView.as_view(), name="health-change-event"),
    re_path(r"^customers/bulk/?$", CustomerBulkView.as_view(), name="customer-bulk"),
    re_path(r"^customers/signals/bulk/?$", CustomerSignalsBulkView.as_view(), name="customer-signals-bulk"),
    re_path(rf"^customers/{CUSTOMER_ID}/health/?$", CustomerHealthView.as_view(), name="customer-health"),
    re_path(rf"^customers/{CUSTOMER_ID}/signals/?$", CustomerSignalsView.as_view(), name="customer-signals"),
    *router.urls,
]
