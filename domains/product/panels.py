"""The product panel of the customer's admin page: adoption per feature, and the customer's feedback."""

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from . import selectors

FEEDBACK_ROWS = 10


def _adoption_table(customer_id: str) -> SafeString | str:
    rows = selectors.customer_adoption(customer_id=customer_id)
    if not rows:
        return "No feature is tracked yet."
    adopted = [row for row in rows if row.feature.is_active and row.adopted]
    active = [row for row in rows if row.feature.is_active]
    summary = (
        f"Adopted {len(adopted)} of {len(active)} active features (adoption rate "
        f"{len(adopted) / len(active):.0%})."
        if active
        else "No active feature."
    )
    return format_html(
        "<p>{}</p><table><tr><th>feature</th><th>adopted</th><th>uses in window</th>"
        "<th>threshold / window</th><th>adopted from</th><th>last used</th></tr>{}</table>",
        summary,
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a>{}</td><td>{}</td><td>{}</td><td>{} in {} days</td>'
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    reverse("admin:product_feature_change", args=[row.feature.pk]),
                    row.feature.name,
                    "" if row.feature.is_active else " (inactive)",
                    "yes" if row.adopted else "no",
                    row.usage_in_window,
                    row.feature.adoption_threshold,
                    row.feature.window_days,
                    row.adopted_from or "-",
                    row.last_used_on or "-",
                )
                for row in rows
            ),
        ),
    )


def _feedback_table(customer_id: str) -> SafeString | str:
    feedback = selectors.feedback_for_customer(customer_id=customer_id, limit=FEEDBACK_ROWS)
    if not feedback:
        return "No feedback yet."
    return format_html(
        "<table><tr><th>feedback</th><th>type</th><th>category</th><th>status</th><th>priority score</th>"
        "<th>release</th><th>submitted</th></tr>{}</table>"
        '<p><a href="{}?customer__customer_id__exact={}">All feedback of this customer</a></p>',
        format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
            "<td>{}</td></tr>",
            (
                (
                    reverse("admin:product_feedback_change", args=[item.pk]),
                    item.feedback_id,
                    item.get_type_display(),
                    item.category,
                    item.get_status_display(),
                    f"{item.priority_score:.1f}",
                    item.committed_release or "-",
                    f"{item.created_at:%Y-%m-%d}",
                )
                for item in feedback
            ),
        ),
        reverse("admin:product_feedback_changelist"),
        customer_id,
    )


def render_product_panel(customer_id: str) -> SafeString:
    return format_html(
        "<h4>Adoption per feature</h4>{}<h4>Feedback</h4>{}",
        _adoption_table(customer_id),
        _feedback_table(customer_id),
    )
