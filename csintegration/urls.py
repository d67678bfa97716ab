"""Root URLs: the versioned API per domain, OAuth endpoints, the OpenAPI document, the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from csintegration.api.health import HealthView
from csintegration.observability.views import MetricsView

handler400 = "csintegration.api.exceptions.bad_request"
handler403 = "csintegration.api.exceptions.permission_denied"
handler404 = "csintegration.api.exceptions.page_not_found"
handler500 = "csintegration.api.exceptions.server_error"

cs_integration = [
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    re_path(r"^metrics/?$", MetricsView.as_view(), name="metrics"),
    path("", include("domains.customers.api.urls")),
    path("", include("csintegration.events.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    # The site's root (and the admin's "View site") is the API's documentation.
    path("", RedirectView.as_view(pattern_name="swagger-ui", permanent=False), name="home"),
    path("api/v1/cs-integration/", include((cs_integration, "cs-integration"))),
    # One versioned API per domain (CONTRACT.md §7 and §9).
    path("api/v1/cs-marketing/", include("domains.marketing.api.urls")),
    path("api/v1/cs-sales/", include("domains.sales.api.urls")),
    path("api/v1/cs-product/", include("domains.product.api.urls")),
    path("api/v1/cs-finance/", include("domains.finance.api.urls")),
    path("api/v1/cs-ops/", include("domains.operations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("o/", include("csintegration.auth.urls", namespace="oauth2_provider")),
    path("admin/", admin.site.urls),
]
