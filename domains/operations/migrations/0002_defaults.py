"""What operations needs out of the box: skills, playbooks, workflow templates and automation rules
(among them: a health-score drop of 20 points or more starts health_decline_intervention)."""

from django.db import migrations

SKILLS = {
    "health_recovery": "Health recovery",
    "onboarding": "Onboarding",
    "renewals": "Renewals",
    "escalation": "Escalation handling",
    "adoption_training": "Adoption training",
    "executive_relations": "Executive relations",
    "technical": "Technical guidance",
}

# (key, name, description, [(title, skill, due_in_days, effort_hours, priority)])
PLAYBOOKS = [
    (
        "health_decline_intervention",
        "Health recovery",
        "Find out why health fell and agree a way back with the customer.",
        [
            ("Review usage and support history", "health_recovery", 1, 1.0, "high"),
            ("Run an adoption workshop with the champion", "adoption_training", 7, 2.0, "normal"),
            ("Agree a success plan with the executive sponsor", "executive_relations", 14, 1.5, "normal"),
        ],
    ),
    (
        "churn_risk_response",
        "Churn rescue",
        "The customer may leave: executive attention within two days and a recovery plan.",
        [
            ("Executive call within 48 hours", "executive_relations", 2, 1.5, "urgent"),
            ("Root-cause review with support and product", "technical", 3, 2.0, "high"),
            ("Recovery plan and weekly follow-up", "health_recovery", 7, 2.0, "high"),
        ],
    ),
    (
        "onboarding_kickoff",
        "Onboarding",
        "From signature to first value.",
        [
            ("Kick-off call and success criteria", "onboarding", 3, 1.5, "high"),
            ("Technical set-up review", "technical", 7, 2.0, "normal"),
            ("First value milestone check", "onboarding", 30, 1.0, "normal"),
        ],
    ),
    (
        "renewal_preparation",
        "Renewal preparation",
        "Show the value delivered before the renewal conversation.",
        [
            ("Value review with ROI evidence", "renewals", 14, 2.0, "normal"),
            ("Renewal call with the decision maker", "renewals", 30, 1.0, "high"),
        ],
    ),
]

# (workflow_type, name, critical, [(action, params)])
TEMPLATES = [
    (
        "health_decline_intervention",
        "Health decline intervention",
        False,
        [
            ("send_immediate_alert", {"severity": "high"}),
            ("schedule_priority_check_in", {"due_in_hours": 24, "required_skill": "health_recovery"}),
            ("deploy_success_playbook", {}),
            ("notify_account_team", {}),
        ],
    ),
    (
        "churn_risk_response",
        "Churn risk response",
        True,
        [
            ("send_immediate_alert", {"severity": "critical"}),
            (
                "schedule_priority_check_in",
                {"due_in_hours": 4, "required_skill": "executive_relations", "priority": "urgent"},
            ),
            ("deploy_success_playbook", {}),
            ("trigger_campaign", {"campaign_type": "retention", "trigger_type": "churn_risk"}),
            ("notify_account_team", {}),
        ],
    ),
    (
        "onboarding_kickoff",
        "Onboarding kick-off",
        False,
        [("deploy_success_playbook", {}), ("notify_account_team", {})],
    ),
    (
        "renewal_preparation",
        "Renewal preparation",
        False,
        [
            (
                "schedule_priority_check_in",
                {"due_in_hours": 72, "required_skill": "renewals", "title": "Renewal check-in"},
            ),
            ("deploy_success_playbook", {}),
            ("notify_account_team", {}),
        ],
    ),
    (
        "campaign_trigger",
        "Campaign trigger",
        False,
        [("trigger_campaign", {"campaign_type": "retention", "trigger_type": "health_decline"})],
    ),
]

HEALTH_DROP_CONDITIONS = {
    "and": [
        {
            "attr": "payload.new_score",
            "op": "changed_by",
            "from": "payload.previous_score",
            "value": -20,
            "label": "health_score_drop",
        },
        {
            "attr": "signals.login_frequency",
            "op": "changed_by",
            "from": "signals_past.login_frequency",
            "value": -0.3,
            "relative": True,
            "if_present": True,
            "label": "usage_decline",
        },
        {
            "attr": "signals.support_tickets",
            "op": "changed_by",
            "from": "signals_past.support_tickets",
            "value": 0.5,
            "relative": True,
            "if_present": True,
            "label": "support_increase",
        },
    ]
}

# (rule_id, name, description, event_type, conditions, workflow_type, suppress_while_open, position)
RULES = [
    (
        "rule_default_health_drop",
        "Health score drop of 20 points or more",
        "The seed's health_decline_intervention trigger: a fall of 20 points or more, and, when the "
        "customer reports those signals, logins down 30 % and support tickets up 50 % over the lookback.",
        "health_score_change",
        HEALTH_DROP_CONDITIONS,
        "health_decline_intervention",
        ["churn_risk_response"],
        10,
    ),
    (
        "rule_default_churn_risk",
        "Churn risk high or critical",
        "Churn risk detected at a high or critical level: the critical queue's rescue workflow (unless a "
        "health decline intervention is already under way).",
        "churn_risk_detected",
        {"attr": "payload.risk_level", "op": "in", "value": ["high", "critical"], "label": "risk_level"},
        "churn_risk_response",
        ["health_decline_intervention"],
        20,
    ),
    (
        "rule_default_onboarding",
        "Sales handoff: onboarding kick-off",
        "A completed sales handoff deploys the onboarding playbook (the handoff's first check-in is created "
        "as its own task).",
        "handoff_completed",
        {},
        "onboarding_kickoff",
        [],
        30,
    ),
    (
        "rule_default_renewal",
        "Journey entered renewal",
        "The customer's journey moved to renewal: prepare the renewal.",
        "journey_stage_changed",
        {"attr": "payload.to_stage", "op": "eq", "value": "renewal"},
        "renewal_preparation",
        [],
        40,
    ),
]


def create_defaults(apps, schema_editor):
    Skill = apps.get_model("operations", "Skill")
    Playbook = apps.get_model("operations", "Playbook")
    PlaybookTask = apps.get_model("operations", "PlaybookTask")
    WorkflowTemplate = apps.get_model("operations", "WorkflowTemplate")
    TemplateStep = apps.get_model("operations", "TemplateStep")
    AutomationRule = apps.get_model("operations", "AutomationRule")
    for key, name in SKILLS.items():
        Skill.objects.get_or_create(key=key, defaults={"name": name})
    for key, name, description, tasks in PLAYBOOKS:
        playbook, created = Playbook.objects.get_or_create(
            key=key, defaults={"name": name, "description": description}
        )
        if created:
            for position, (title, skill, days, effort, priority) in enumerate(tasks):
                PlaybookTask.objects.create(
                    playbook=playbook,
                    position=position,
                    title=title,
                    required_skill_id=skill,
                    due_in_days=days,
                    effort_hours=effort,
                    priority=priority,
                )
    for workflow_type, name, critical, steps in TEMPLATES:
        template, created = WorkflowTemplate.objects.get_or_create(
            workflow_type=workflow_type, defaults={"name": name, "critical": critical}
        )
        if created:
            for position, (action, params) in enumerate(steps):
                TemplateStep.objects.create(template=template, position=position, action=action, params=params)
    for rule_id, name, description, event_type, conditions, workflow_type, suppress, position in RULES:
        AutomationRule.objects.get_or_create(
            rule_id=rule_id,
            defaults={
                "name": name,
                "description": description,
                "event_type": event_type,
                "conditions": conditions,
                "action": "start_workflow",
                "action_params": {"workflow_type": workflow_type},
                "suppress_while_open": suppress,
                "position": position,
            },
        )


def remove_defaults(apps, schema_editor):
    apps.get_model("operations", "AutomationRule").objects.filter(rule_id__in=[r[0] for r in RULES]).delete()
    apps.get_model("operations", "WorkflowTemplate").objects.filter(
        workflow_type__in=[t[0] for t in TEMPLATES]
    ).delete()
    apps.get_model("operations", "Playbook").objects.filter(key__in=[p[0] for p in PLAYBOOKS]).delete()
    apps.get_model("operations", "Skill").objects.filter(key__in=list(SKILLS)).delete()


class Migration(migrations.Migration):
    dependencies = [("operations", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
