"""The finance panel of the customer's admin page: value realisation, churn-risk episodes, contracts,
payments, value reports."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from domains.customers.models import Customer

from . import realization, reports, selectors, services
from .conf import conf
from .models import Contract, Payment, PaymentStatus, ValueReport

PANEL_ROWS = 10
STATUS_COLOURS = {
    PaymentStatus.PAID: "#1a7f37",
    PaymentStatus.OPEN: "#57606a",
    PaymentStatus.OVERDUE: "#d1242f",
}


def _money(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _summary(customer: Customer) -> SafeString:
    value = reports.customer_value(customer=customer, fit=services.renewal_model_current())
    realization, attribution = value["value_realization"], value["revenue_attribution"]
    health = value["financial_health"]
    roi = realization["roi_percentage"]
    return format_html(
        "<p>ARR in force <strong>{}</strong> · contracted {} · realised {} · ROI {} · timeline {}<br>"
        "Payments <strong>{}</strong> · renewal probability <strong>{}</strong> ({} model, Brier {}) · "
        "saves {} worth {} · expansion {} ({})</p>",
        _money(realization["current_arr"]),
        _money(realization["contracted_value"]),
        _money(realization["realized_value"]),
        "-" if roi is None else f"{roi} %",
        realization["realization_timeline"] or "not reached",
        health["payment_status"],
        f"{health['renewal_probability']:.2f}",
        health["renewal_model"]["basis"],
        "-"
        if health["renewal_model"]["brier_score"] is None
        else f"{health['renewal_model']['brier_score']:.3f}",
        attribution["saves"],
        _money(attribution["churn_prevention_value"]),
        _money(attribution["expansion_revenue"]),
        attribution["expansion_revenue_basis"],
    )


def _contracts(customer_id: str, today) -> SafeString:
    rows = Contract.objects.filter(customer_id=customer_id).order_by("-start_date")[:PANEL_ROWS]
    if not rows:
        return format_html("<p>{}</p>", "No contracts.")
    return format_html(
        "<table><tr><th>contract</th><th>from</th><th>to</th><th>value</th><th>ARR</th><th>in force</th></tr>"
        "{}</table>",
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:finance_contract_change", args=[row.pk]),
                    row.pk,
                    row.start_date,
                    row.end_date,
                    _money(row.contracted_value),
                    _money(row.arr),
                    "yes" if row.in_force_on(today) else "no",
                )
                for row in rows
            ),
        ),
    )


def _payments(customer_id: str, today) -> SafeString:
    rows = Payment.objects.filter(customer_id=customer_id).order_by("-due_date")[:PANEL_ROWS]
    if not rows:
        return format_html("<p>{}</p>", "No payments.")
    grace = conf.FINANCE_OVERDUE_GRACE_DAYS
    return format_html(
        "<table><tr><th>payment</th><th>amount</th><th>due</th><th>paid</th><th>status</th></tr>{}</table>",
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td>'
            '<td style="color:{}">{}</td></tr>',
            (
                (
                    reverse("admin:finance_payment_change", args=[row.pk]),
                    row.pk,
                    _money(row.amount),
                    row.due_date,
                    row.paid_date or "-",
                    STATUS_COLOURS[row.status_on(today, grace)],
                    row.status_on(today, grace),
                )
                for row in rows
            ),
        ),
    )


def _value_reports(customer_id: str) -> SafeString:
    rows = ValueReport.objects.filter(customer_id=customer_id).order_by("-reported_at")[:PANEL_ROWS]
    if not rows:
        return format_html("<p>{}</p>", "No value reports.")
    return format_html(
        "<table><tr><th>reported</th><th>realised value</th></tr>{}</table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td></tr>",
            ((f"{row.reported_at:%Y-%m-%d}", _money(row.realized_value)) for row in rows),
        ),
    )


def _episodes(customer: Customer) -> SafeString:
    """The customer's churn-risk episodes (realization.py): when each began and whether it was saved."""
    since = timezone.now() - timedelta(days=2 * conf.FINANCE_ATTRIBUTION_WINDOW_DAYS)
    alerts, points = selectors.churn_alerts_and_scores(customer=customer, since=since)
    episodes = realization.churn_risk_episodes(
        alerts, points, recovery_points=conf.FINANCE_SAVE_RECOVERY_POINTS
    )
    if not episodes:
        return format_html("<p>{}</p>", "No churn-risk episode.")
    return format_html(
        "<table><tr><th>began</th><th>score then</th><th>ended</th><th>recovered to</th><th>alert</th></tr>"
        "{}</table>",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{episode.started_at:%Y-%m-%d}",
                    episode.alert_score,
                    f"{episode.ended_at:%Y-%m-%d}" if episode.ended_at else "open",
                    episode.recovery_score if episode.recovery_score is not None else "-",
                    episode.alert_event_id,
                )
                for episode in reversed(episodes[-PANEL_ROWS:])
            ),
        ),
    )


def render_customer_panel(customer_id: str) -> SafeString:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return format_html("<p>{}</p>", "-")
    today = selectors.today()
    return format_html(
        "{}<h4>Churn-risk episodes</h4>{}<h4>Contracts</h4>{}<h4>Payments</h4>{}<h4>Value reports</h4>{}",
        _summary(customer),
        _episodes(customer),
        _contracts(customer_id, today),
        _payments(customer_id, today),
        _value_reports(customer_id),
    )
