"""The finance part of the admin dashboard: the churn-risk episodes still open (realization.py's
definition: from a ``churn_risk_detected`` alert until the score recovers), with the ARR they hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from csintegration.adminsite.customer_sets import PARAMETER as CUSTOMER_SET
from csintegration.adminsite.dashboard import Figure, Section, changelist_url
from domains.customers.models import Customer

from . import realization, selectors
from .conf import conf

#: the customer list's set of customers with an open episode (registered in apps.py)
OPEN_EPISODES_SET = "churn_episode_open"


def open_episode_customer_ids() -> list[str]:
    """Customers whose latest churn-risk episode within twice the attribution window is still open."""
    since = timezone.now() - timedelta(days=2 * conf.FINANCE_ATTRIBUTION_WINDOW_DAYS)
    open_ids = []
    for customer_id, (alerts, points) in selectors.churn_alerts_and_scores_by_customer(since=since).items():
        episodes = realization.churn_risk_episodes(
            alerts, points, recovery_points=conf.FINANCE_SAVE_RECOVERY_POINTS
        )
        if episodes and episodes[-1].ended_at is None:
            open_ids.append(customer_id)
    return sorted(open_ids)


def episodes_section(request) -> Section:
    ids = open_episode_customer_ids()
    customers = Customer.objects.filter(pk__in=ids)
    count = customers.count()  # an alerted customer deleted since has no row to list
    arr = customers.aggregate(total=Sum("arr"))["total"] or Decimal(0)
    return Section(
        figures=[
            Figure(
                "Churn-risk episodes open",
                str(count),
                changelist_url("customers.customer", **{CUSTOMER_SET: OPEN_EPISODES_SET}),
                count,
                tone="danger" if count else "success",
                note=f"${arr:,.0f} ARR in them",
            )
        ]
    )
