"""Routes of the event log (mounted under /api/v1/cs-integration/)."""

from csintegration.api.routers import PlatformRouter

from .views import EventViewSet

app_name = "events"

router = PlatformRouter()
router.register("events", EventViewSet, basename="event")
urlpatterns = router.urls
