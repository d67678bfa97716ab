"""The marketing side of the customer's admin page: the journey with its history, the campaign
memberships, and what the trigger rules recommend now. A handful of queries."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from domains.customers.models import Customer

from . import selectors

HISTORY_ROWS = 10
MEMBERSHIP_ROWS = 10


def _when(moment) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def _baseline(member) -> str:
    engagement = member.baseline_engagement_score
    shown = "-" if engagement is None else f"{engagement:g}"
    return f"health {member.baseline_health_score}, engagement {shown}"


def render_marketing_panel(customer_id: str):
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return "-"
    status = selectors.journey_status(customer=customer, history_limit=HISTORY_ROWS)
    history = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (stay.stage, _when(stay.entered_at), _when(stay.left_at), stay.reason, stay.changed_by)
            for stay in status.history
        ),
    )
    memberships = selectors.customer_memberships(customer_id=customer_id, limit=MEMBERSHIP_ROWS)
    membership_rows = format_html_join(
        "",
        '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                reverse("admin:marketing_campaign_change", args=[member.campaign_id]),
                member.campaign.name,
                member.campaign.campaign_type,
                member.campaign.status,
                member.group,
                _when(member.enrolled_at),
                _baseline(member),
            )
            for member in memberships
        ),
    )
    recommendations = selectors.campaign_recommendations(customer=customer)
    recommendation_rows = format_html_join(
        "",
        "<li>{} ({}): {}{}</li>",
        (
            (
                item.campaign_type,
                item.trigger_type,
                item.reason,
                f" · in {item.open_campaign_id}" if item.open_campaign_id else "",
            )
            for item in recommendations
        ),
    )
    return format_html(
        "<p>Journey: <strong>{}</strong> since {}; next actions: {}; may move to {}. "
        '<a href="{}">Move the journey…</a></p>'
        "<table><tr><th>stage</th><th>entered</th><th>left</th><th>reason</th><th>changed by</th></tr>"
        "{}</table>"
        "<h4>Campaign memberships</h4>{}"
        "<h4>Campaigns the trigger rules recommend now</h4>{}",
        status.current_stage,
        _when(status.entered_at),
        ", ".join(status.next_actions) or "none configured",
        ", ".join(status.allowed_stages) or "no stage",
        reverse("admin:marketing_journey_move", args=[customer_id]),
        history,
        format_html(
            "<table><tr><th>campaign</th><th>type</th><th>status</th><th>group</th><th>enrolled</th>"
            "<th>at enrolment</th></tr>{}</table>",
            membership_rows,
        )
        if memberships
        else format_html("<p>{}</p>", "In no campaign."),
        format_html("<ul>{}</ul>", recommendation_rows)
        if recommendations
        else format_html("<p>{}</p>", "None."),
    )
