"""Routes of the customer API (mounted under /api/v1/cs-integration/)."""

from csintegration.api.routers import PlatformRouter

from .views import CustomerViewSet

app_name = "customers"

router = PlatformRouter()
router.register("customers", CustomerViewSet, basename="customer")
urlpatterns = router.urls
