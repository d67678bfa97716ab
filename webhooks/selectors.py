"""Reads of webhook endpoints and deliveries shared by the API and the admin."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from .models import Attempt, Delivery, WebhookEndpoint


def endpoint_list(*, client: Any) -> QuerySet[WebhookEndpoint]:
    """The endpoints of one OAuth client; another client's endpoints do not exist for it."""
    return WebhookEndpoint.objects.filter(client=client)


def endpoint_get(*, client: Any, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoint_list(client=client).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise Http404(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def delivery_list(
    *, endpoint: WebhookEndpoint, status: str | None = None, event_type: str | None = None
) -> QuerySet[Delivery]:
    """Deliveries of an endpoint with their attempts (one extra query per page)."""
    deliveries = (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("message")
        .prefetch_related(Prefetch("attempts", queryset=Attempt.objects.order_by("number")))
    )
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return deliveries


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: str) -> Delivery:
    delivery = delivery_list(endpoint=endpoint).filter(pk=delivery_id).first()
    if delivery is None:
        raise Http404(f"No delivery {delivery_id} for the endpoint {endpoint.pk}.")
    return delivery
