"""The platform's URLs plus the baselines of the benchmarks, served only with ``bench/settings_bench.py``.

- ``/bench/customers/{id}``: the customer detail view with authentication, scope checks, rate limiting and
  the audit log switched off (the audit log records ``/api/`` only): what the security stack costs.
- ``/bench/bare/…``: plain Django views (no DRF, no middleware work of the API) serving the same rows as
  the endpoints that ``bench/run.py`` measures: the limit a request to the platform can approach.
"""

import json

from django.db import transaction
from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from csintegration.urls import handler400, handler403, handler404, handler500  # noqa: F401
from csintegration.urls import urlpatterns as platform_urlpatterns
from domains.customers.api.views import CustomerViewSet
from domains.customers.models import Customer

BARE_FIELDS = (
    "customer_id",
    "name",
    "segment",
    "arr",
    "success_manager",
    "health_score",
    "health_trend",
    "risk_level",
    "lifecycle_stage",
    "created_at",
    "updated_at",
)


class UnguardedCustomerViewSet(CustomerViewSet):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []


def bare_customer(request, customer_id: str):
    row = Customer.objects.filter(customer_id=customer_id).values(*BARE_FIELDS).first()
    if row is None:
        return HttpResponseNotFound()
    return JsonResponse(row)


def bare_customer_list(request):
    rows = Customer.objects.order_by("-created_at", "-pk").values(*BARE_FIELDS)
    if "risk_level" in request.GET:
        rows = rows.filter(risk_level=request.GET["risk_level"])
    return JsonResponse({"next": None, "previous": None, "results": list(rows[:50])})


@csrf_exempt
def bare_health_change(request):
    """Reads the body, writes the new score on the same row and answers with it, in one transaction."""
    try:
        body = json.loads(request.body)
        customer_id, new_score = body["customer_id"], int(body["new_score"])
    except (ValueError, KeyError, TypeError):
        return HttpResponseBadRequest()
    with transaction.atomic():
        if not Customer.objects.filter(customer_id=customer_id).update(health_score=new_score):
            return HttpResponseNotFound()
        row = Customer.objects.filter(customer_id=customer_id).values(*BARE_FIELDS).first()
    return JsonResponse(row, status=202)


urlpatterns = [
    path("bench/customers/<str:customer_id>", UnguardedCustomerViewSet.as_view({"get": "retrieve"})),
    path("bench/bare/customers", bare_customer_list),
    path("bench/bare/customers/<str:customer_id>", bare_customer),
    path("bench/bare/events/health-change", bare_health_change),
    *platform_urlpatterns,
]
