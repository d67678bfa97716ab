"""Root URLs: the versioned API per domain, OAuth endpoints, the OpenAPI document, the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from csintegration.api.health import HealthView

handler400 = "csintegration.api.exceptions.bad_request"
handler403 = "csintegration.api.exceptions.permission_denied"
handler404 = "csintegration.api.exceptions.page_not_found"
handler500 = "csintegration.api.exceptions.server_error"

cs_integration = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    path("", include("domains.customers.api.urls")),
    path("", include("csintegration.events.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    # The site's root (and the admin's "View site") is the API's documentation.
    path("", RedirectView.as_view(pattern_name="swagger-ui", permanent=False), name="home"),
    path("api/v1/cs-integration/", include((cs_integration, "cs-integration"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("o/", include("csintegration.auth.urls", namespace="oauth2_provider")),
    path("admin/", admin.site.urls),
]
