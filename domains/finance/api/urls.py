"""Routes of the finance API (mounted under /api/v1/cs-finance/)."""

from django.urls import re_path

from csintegration.api.routers import PlatformRouter
from csintegration.ids import id_path_parameter

from .serializers import CUSTOMER_ID_PREFIX
from .views import (
    ContractViewSet,
    CustomerValueView,
    ForecastPeriodView,
    ForecastView,
    PaymentViewSet,
    RetentionView,
    ValueReportViewSet,
)

app_name = "finance"

CUSTOMER_ID = id_path_parameter("customer_id", CUSTOMER_ID_PREFIX)
#: validated by the view, which answers a 400 naming forecast_period
FORECAST_PERIOD = r"(?P<forecast_period>[A-Za-z0-9_-]{1,20})"

router = PlatformRouter()
router.register("contracts", ContractViewSet, basename="contract")
router.register("payments", PaymentViewSet, basename="payment")
router.register("value-reports", ValueReportViewSet, basename="value-report")
urlpatterns = [
    re_path(rf"^value/{CUSTOMER_ID}/?$", CustomerValueView.as_view(), name="customer-value"),
    re_path(r"^forecast/?$", ForecastView.as_view(), name="forecast"),
    re_path(rf"^forecast/{FORECAST_PERIOD}/?$", ForecastPeriodView.as_view(), name="forecast-period"),
    re_path(r"^retention/?$", RetentionView.as_view(), name="retention"),
    *router.urls,
]
