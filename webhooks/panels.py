"""The webhooks panel of the customer's admin page: the latest deliveries of its events."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .models import Delivery

PANEL_ROWS = 10


def render_customer_panel(customer_id: str) -> SafeString:
    rows = list(
        Delivery.objects.filter(message__customer_id=customer_id)
        .select_related("endpoint")
        .order_by("-created_at", "-id")[:PANEL_ROWS]
    )
    if not rows:
        return format_html("<p>{}</p>", "No webhook delivery of this customer's events.")
    return format_html(
        "<table><tr><th>delivery</th><th>event</th><th>endpoint</th><th>status</th><th>attempts</th>"
        "<th>last code</th><th>created</th></tr>{}</table>",
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td>' + "<td>{}</td>" * 6 + "</tr>",
            (
                (
                    reverse("admin:webhooks_delivery_change", args=[row.pk]),
                    row.pk,
                    row.event_type,
                    row.endpoint.url,
                    row.get_status_display(),
                    row.attempt_count,
                    row.last_status_code or "-",
                    f"{row.created_at:%Y-%m-%d %H:%M}",
                )
                for row in rows
            ),
        ),
    )
