"""What the platform ships with: the at_risk and low_engagement segments, the trigger rules that map CS
signals to campaign types, and the next actions of each journey stage. All editable in the admin."""

from django.db import migrations

SEGMENTS = [
    {
        "key": "at_risk",
        "name": "At risk",
        "description": "Customers whose risk level is high or critical, or whose lifecycle stage is at_risk.",
        "filters": {"any": [{"risk_level": ["high", "critical"]}, {"lifecycle_stage": ["at_risk"]}]},
    },
    {
        "key": "low_engagement",
        "name": "Low engagement",
        "description": "Customers whose engagement score is below 5 (customers without one are not in it).",
        "filters": {"engagement_score_below": 5},
    },
]

# (priority, name, signal, threshold, campaign type, trigger type, automatic)
RULES = [
    (10, "Churn risk to retention", "churn_risk", None, "retention", "churn_risk", True),
    (20, "Declining health to retention", "health_declining", 10.0, "retention", "health_decline", True),
    (30, "Expansion readiness to expansion", "expansion_ready", None, "expansion", "expansion_readiness", True),
    (40, "Stalled onboarding to onboarding nurture", "onboarding_stalled", 30.0, "onboarding_nurture",
     "onboarding_stalled", False),
    (50, "Low adoption to adoption", "low_adoption", 0.3, "adoption", "low_adoption", False),
    (60, "Low engagement to retention", "low_engagement", 5.0, "retention", "low_engagement", False),
    (70, "Promoters to advocacy", "promoter", 50.0, "advocacy", "nps_promoter", False),
    (80, "Churned to win-back", "churned", None, "win_back", "churned", False),
]

ACTIONS = {
    "onboarding": [
        ("schedule_kickoff_call", "Kick-off call with the champion and the success manager"),
        ("send_welcome_series", "Start the welcome e-mail series"),
        ("set_success_criteria", "Agree the success criteria and the first milestones"),
    ],
    "adoption": [
        ("review_feature_adoption", "Review which licensed features are in use"),
        ("share_best_practices", "Send the best-practice guides for the features in use"),
        ("invite_to_training", "Invite the users to the next training webinar"),
    ],
    "expansion": [
        ("present_expansion_options", "Present the products and tiers that fit the usage"),
        ("schedule_executive_review", "Schedule a business review with the executive sponsor"),
    ],
    "renewal": [
        ("run_value_review", "Review the value realised against the success criteria"),
        ("prepare_renewal_proposal", "Prepare the renewal proposal"),
    ],
    "at_risk": [
        ("schedule_check_in", "Schedule a check-in with the champion"),
        ("executive_outreach", "Reach out to the executive sponsor"),
        ("assess_training_needs", "Assess where the users need help"),
    ],
    "churned": [
        ("collect_exit_feedback", "Ask why the customer left"),
        ("send_win_back_offer", "Send the win-back offer after 90 days"),
    ],
}


def create_defaults(apps, schema_editor):
    Segment = apps.get_model("marketing", "Segment")
    TriggerRule = apps.get_model("marketing", "TriggerRule")
    StageAction = apps.get_model("marketing", "StageAction")
    for segment in SEGMENTS:
        Segment.objects.update_or_create(key=segment["key"], defaults={**segment, "is_builtin": True})
    for priority, name, signal, threshold, campaign_type, trigger_type, automatic in RULES:
        TriggerRule.objects.get_or_create(
            name=name,
            defaults={
                "priority": priority,
                "signal": signal,
                "threshold": threshold,
                "campaign_type": campaign_type,
                "trigger_type": trigger_type,
                "automatic": automatic,
            },
        )
    for stage, actions in ACTIONS.items():
        for order, (action, description) in enumerate(actions, start=1):
            StageAction.objects.get_or_create(
                stage=stage, action=action, defaults={"description": description, "order": order * 10}
            )


class Migration(migrations.Migration):
    dependencies = [("marketing", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
