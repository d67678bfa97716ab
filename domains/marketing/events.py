"""The event types the marketing domain publishes (area ``marketing``: receivers need marketing:read)."""

from csintegration.events import register_event_type

JOURNEY_STAGE_CHANGED = register_event_type(
    "journey_stage_changed",
    label="Journey stage changed",
    area="marketing",
    example={
        "from_stage": "onboarding",
        "to_stage": "adoption",
        "reason": "completed_onboarding_milestones",
        "changed_by": "client:crm-sync",
    },
    description="A customer moved to another lifecycle stage through the journey (its record's "
    "lifecycle_stage follows). changed_by is client:<client_id>, staff:<username>, or the workflow "
    "that moved it.",
)
CAMPAIGN_TRIGGERED = register_event_type(
    "campaign_triggered",
    label="Campaign triggered",
    area="marketing",
    example={
        "campaign_id": "camp_67890",
        "campaign_type": "retention",
        "trigger_type": "health_decline",
        "reason": "health score fell 15 points (80 to 65), at least 10",
    },
    description="A customer was enrolled into an open campaign by an automatic trigger rule or a "
    "workflow (its marketing status becomes active).",
)
CAMPAIGN_MEMBERS_ENROLLED = register_event_type(
    "campaign_members_enrolled",
    label="Campaign members enrolled",
    area="marketing",
    customer_scoped=False,
    example={
        "campaign_id": "camp_67890",
        "campaign_type": "retention",
        "customer_ids": ["cust_12345", "cust_12346"],
    },
    description="The members enrolled when a campaign was created, at most 1000 per event (their "
    "marketing status becomes active). The holdout is not in them.",
)
CAMPAIGN_CREATED = register_event_type(
    "campaign_created",
    label="Campaign created",
    area="marketing",
    customer_scoped=False,
    example={
        "campaign_id": "camp_67890",
        "name": "Q1 retention",
        "campaign_type": "retention",
        "trigger_type": "health_decline",
        "customer_segments": ["at_risk", "low_engagement"],
        "audience_size": 1250,
        "members": 1125,
        "holdout_size": 125,
    },
    description="A campaign was created with its audience resolved from its segments.",
)
CAMPAIGN_COMPLETED = register_event_type(
    "campaign_completed",
    label="Campaign completed",
    area="marketing",
    customer_scoped=False,
    example={
        "campaign_id": "camp_67890",
        "campaign_type": "retention",
        "status": "completed",
        "members": 1125,
        "comparison": "holdout",
        "retention_improvement": "6%",
        "engagement_lift": "12%",
    },
    description="A campaign was completed (by hand or at its end time) or cancelled; a completed one "
    "carries its measured impact, frozen from then on.",
)
