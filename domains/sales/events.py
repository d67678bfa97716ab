"""The event types the sales domain publishes (area ``sales``: receivers need sales:read).

No payload ever carries the stakeholders' e-mails or the sales notes of a handoff (encrypted at rest).
"""

from csintegration.events import register_event_type

HANDOFF_COMPLETED = register_event_type(
    "handoff_completed",
    label="Sales handoff completed",
    area="sales",
    example={
        "handoff_id": "hnd_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "plan_id": "plan_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "deal_value": 150000,
        "contract_terms": "3_year",
        "success_manager": "sarah.smith@company.com",
        "onboarding_start": "2025-12-05",
        "first_check_in": "2025-12-12",
        "success_criteria": ["adoption_target", "roi_target"],
        "stakeholder_count": 1,
    },
    description="Sales handed the customer over to Customer Success: a success plan exists (onboarding "
    "from onboarding_start, a first check-in due on first_check_in with success_manager), the baseline "
    "is recorded, and the customer is handed_off, in onboarding, with that success manager. The "
    "stakeholders' e-mails and the sales notes are never in the payload.",
)
EXPANSION_READY = register_event_type(
    "expansion_ready",
    label="Expansion ready",
    area="sales",
    example={
        "opportunity_type": "upsell",
        "value_estimate": 50000,
        "probability": 0.75,
        "success_factors": ["high_product_adoption", "strong_health_score", "recent_success_milestones"],
        "opportunity_id": "opp_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "product": "premium_features",
        "readiness_score": 78,
        "threshold": 70,
    },
    schema={
        "type": "object",
        "properties": {
            "opportunity_type": {"type": "string", "enum": ["upsell", "cross_sell"], "nullable": True},
            "value_estimate": {"type": "number", "nullable": True},
            "probability": {"type": "number", "minimum": 0, "maximum": 1, "nullable": True},
            "success_factors": {"type": "array", "items": {"type": "string"}},
            "opportunity_id": {"type": "string", "nullable": True},
            "product": {"type": "string", "nullable": True},
            "readiness_score": {"type": "integer", "minimum": 0, "maximum": 100},
            "threshold": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "required": [
            "opportunity_type",
            "value_estimate",
            "probability",
            "success_factors",
            "opportunity_id",
            "product",
            "readiness_score",
            "threshold",
        ],
    },
    description="The customer's expansion readiness crossed the readiness model's threshold upwards. "
    "Once per crossing: not again until the score has fallen below the threshold (minus the model's "
    "re-arm margin) and risen again. The opportunity fields are the customer's best open opportunity "
    "(highest value * probability), or null when it has none; success_factors are the readiness "
    "factors that contributed most.",
)
OPPORTUNITY_CREATED = register_event_type(
    "opportunity_created",
    label="Expansion opportunity created",
    area="sales",
    example={
        "opportunity_id": "opp_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "type": "upsell",
        "product": "premium_features",
        "value_estimate": 50000,
        "probability": 0.75,
        "timeline": "q1_2026",
        "status": "open",
    },
)
OPPORTUNITY_WON = register_event_type(
    "opportunity_won",
    label="Expansion opportunity won",
    area="sales",
    example={
        "opportunity_id": "opp_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "type": "upsell",
        "product": "premium_features",
        "value_estimate": 50000,
        "probability": 0.75,
        "timeline": "q1_2026",
        "status": "won",
    },
    description="An opportunity was closed as won (its value_estimate is the won value).",
)
OPPORTUNITY_LOST = register_event_type(
    "opportunity_lost",
    label="Expansion opportunity lost",
    area="sales",
    example={
        "opportunity_id": "opp_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "type": "cross_sell",
        "product": "analytics_addon",
        "value_estimate": 20000,
        "probability": 0.3,
        "timeline": "2026-03",
        "status": "lost",
    },
)
MILESTONE_ACHIEVED = register_event_type(
    "milestone_achieved",
    label="Success milestone achieved",
    area="sales",
    example={
        "milestone_id": "ms_01jd3k8x2m4n6p8r0t2v4w6y8z",
        "milestone": "achieved_roi_target",
        "achieved_at": "2025-12-05T08:20:00Z",
        "goals_achieved": ["roi_target"],
    },
    description="A success milestone was recorded; goals_achieved are the success-plan goals it achieved.",
)
