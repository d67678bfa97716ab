"""The sales side of the customer's admin page: handoff and success plan with the baseline, readiness with
its factors, opportunities and milestones."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from domains.customers.models import Customer

from . import selectors
from .models import Handoff

PANEL_ROWS = 20


def _number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _table(headers: tuple[str, ...], rows) -> SafeString:
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    cells = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html("<table><tr>{}</tr>{}</table>", head, cells)


def _handoff_section(customer: Customer, handoff: Handoff | None) -> SafeString:
    if handoff is None:
        return format_html("<h4>Handoff</h4><p>{}</p>", "Not handed off yet.")
    plan = handoff.success_plan
    summary = format_html(
        '<p><a href="{}">{}</a> on {} by {}: deal value {}, {}; success criteria: {}.</p>'
        "<p>Success plan {} ({}), success manager {}, onboarding from {}, first check-in {}.</p>",
        reverse("admin:sales_handoff_change", args=[handoff.pk]),
        handoff.handoff_id,
        f"{handoff.created_at:%Y-%m-%d %H:%M}",
        handoff.handed_off_by or "-",
        handoff.deal_value,
        handoff.contract_terms,
        ", ".join(handoff.success_criteria) or "none",
        plan.plan_id,
        plan.get_status_display(),
        plan.success_manager,
        plan.onboarding_start,
        plan.first_check_in,
    )
    tasks = _table(
        ("task", "due", "assignee", "status"),
        ((task.title, task.due_date, task.assignee, task.get_status_display()) for task in plan.tasks.all()),
    )
    goals = _table(
        ("goal", "status", "achieved"),
        (
            (
                goal.criterion,
                goal.get_status_display(),
                f"{goal.achieved_at:%Y-%m-%d}" if goal.achieved_at else "-",
            )
            for goal in plan.goals.all()
        ),
    )
    baseline = _table(
        ("", "health", "trend", "risk", "adoption", "engagement", "NPS", "ARR"),
        (
            (
                "at handoff",
                handoff.baseline_health_score,
                handoff.baseline_health_trend,
                handoff.baseline_risk_level,
                _number(handoff.baseline_adoption_rate),
                _number(handoff.baseline_engagement_score),
                _number(handoff.baseline_nps_score),
                handoff.baseline_arr,
            ),
            (
                "now",
                customer.health_score,
                customer.health_trend,
                customer.risk_level,
                _number(customer.adoption_rate),
                _number(customer.engagement_score),
                _number(customer.nps_score),
                customer.arr,
            ),
        ),
    )
    return format_html(
        "<h4>Handoff and success plan</h4>{}{}{}<h4>Baseline</h4>{}", summary, tasks, goals, baseline
    )


def _readiness_section(customer: Customer) -> SafeString:
    spec = selectors.readiness_spec()
    readiness = selectors.customer_readiness(customer=customer, spec=spec)
    state = selectors.readiness_state(customer_id=customer.customer_id)
    announced = (
        f"last announced {state.last_crossed_at:%Y-%m-%d %H:%M} ({state.crossings} in all)"
        if state is not None and state.last_crossed_at
        else "never announced"
    )
    factors = _table(
        ("factor", "raw", "normalised", "weight", "points", "listed"),
        (
            (
                result.label,
                _number(result.raw_value),
                _number(result.normalised_value),
                _number(result.weight),
                f"{result.points:.2f}",
                "yes" if result in readiness.top else "",
            )
            for result in readiness.factors
        ),
    )
    return format_html(
        "<h4>Expansion readiness</h4><p><strong>{}</strong> of 100 under {} (threshold {}: {}); {}.</p>{}",
        readiness.score,
        spec.name,
        spec.threshold,
        "ready" if readiness.score >= spec.threshold else "not ready",
        announced,
        factors,
    )


def _opportunities_section(customer_id: str) -> SafeString:
    opportunities = list(selectors.opportunity_list().filter(customer_id=customer_id)[:PANEL_ROWS])
    if not opportunities:
        return format_html("<h4>Opportunities</h4><p>{}</p>", "None yet.")
    rows = (
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:sales_opportunity_change", args=[o.pk]),
                o.opportunity_id,
            ),
            o.get_type_display(),
            o.product,
            o.value_estimate,
            _number(float(o.probability)),
            o.timeline,
            o.get_status_display(),
        )
        for o in opportunities
    )
    table = _table(("opportunity", "type", "product", "value", "probability", "timeline", "status"), rows)
    return format_html("<h4>Opportunities</h4>{}", table)


def _milestones_section(customer_id: str) -> SafeString:
    milestones = list(selectors.milestone_list().filter(customer_id=customer_id)[:PANEL_ROWS])
    if not milestones:
        return format_html("<h4>Milestones</h4><p>{}</p>", "None yet.")
    rows = ((m.get_milestone_display(), f"{m.achieved_at:%Y-%m-%d}", m.note) for m in milestones)
    return format_html("<h4>Milestones</h4>{}", _table(("milestone", "achieved", "note"), rows))


def render_sales_panel(customer_id: str) -> SafeString:
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return SafeString("")
    handoff = selectors.handoff_for_customer(customer_id=customer_id)
    return format_html(
        "{}{}{}{}",
        _handoff_section(customer, handoff),
        _readiness_section(customer),
        _opportunities_section(customer_id),
        _milestones_section(customer_id),
    )
