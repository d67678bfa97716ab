"""The marketing part of the admin dashboard: the campaigns running, each with its measured impact
(members against their holdout or comparison group); one query per running campaign shown."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html

from csintegration.adminsite.dashboard import Figure, Section, Table, changelist_url

from . import selectors
from .models import Campaign, CampaignStatus

CAMPAIGNS = "marketing.campaign"
CAMPAIGN_ROWS = 8


def _points(value) -> str:
    return "-" if value is None else f"{value:+.1f}"


def campaign_section(request) -> Section:
    running = Campaign.objects.filter(status=CampaignStatus.ACTIVE)
    count = running.count()
    rows = []
    for campaign in running.order_by("-members_count", "campaign_id")[:CAMPAIGN_ROWS]:
        measured = selectors.campaign_live_impact(campaign=campaign)
        rows.append(
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:marketing_campaign_change", args=[campaign.pk]),
                    campaign.name,
                ),
                campaign.get_campaign_type_display(),
                measured.members.size,
                (measured.comparison or "none yet").replace("_", "-"),
                _points(measured.retention_difference),
                _points(measured.health_difference),
                _points(measured.engagement_difference),
            )
        )
    return Section(
        figures=[
            Figure(
                "Campaigns running",
                str(count),
                changelist_url(CAMPAIGNS, status__exact=CampaignStatus.ACTIVE),
                count,
                tone="primary",
            )
        ],
        table=Table(
            headers=(
                "campaign",
                "type",
                "members",
                "against",
                "retention (pts)",
                "health (pts)",
                "engagement",
            ),
            rows=rows,
            empty="No campaign is running.",
        ),
    )
