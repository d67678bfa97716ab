"""The platform's URLs plus ``/bench/customers/{id}``: the customer detail view with authentication,
scope checks, rate limiting and the audit log switched off (the audit log records ``/api/`` only)."""

from django.urls import path

from csintegration.urls import handler400, handler403, handler404, handler500  # noqa: F401
from csintegration.urls import urlpatterns as platform_urlpatterns
from domains.customers.api.views import CustomerViewSet


class UnguardedCustomerViewSet(CustomerViewSet):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []


urlpatterns = [
    path("bench/customers/<str:customer_id>", UnguardedCustomerViewSet.as_view({"get": "retrieve"})),
    *platform_urlpatterns,
]
