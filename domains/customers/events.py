"""The event types the customers domain publishes (area ``customers``: receivers need customers:read)."""

from csintegration.events import register_event_type

CUSTOMER_FIELDS_EXAMPLE = {
    "name": "Acme Analytics",
    "segment": "enterprise",
    "arr": 150000,
    "success_manager": "sarah.smith@company.com",
    "health_score": 85,
    "health_trend": "improving",
    "risk_level": "low",
    "lifecycle_stage": "adoption",
    "adoption_rate": 0.75,
    "engagement_score": 8.2,
    "nps_score": 45,
    "marketing_status": "active",
    "sales_status": "handed_off",
    "product_status": "beta_participant",
    "finance_status": "current",
    "operations_status": "supported",
}

CUSTOMER_CREATED = register_event_type(
    "customer.created",
    label="Customer created",
    area="customers",
    example=CUSTOMER_FIELDS_EXAMPLE,
    description="A customer record was created (its fields as stored).",
)
CUSTOMER_UPDATED = register_event_type(
    "customer.updated",
    label="Customer updated",
    area="customers",
    example={
        "changed_fields": ["health_score", "risk_level"],
        "changes": {
            "health_score": {"previous": 80, "current": 65},
            "risk_level": {"previous": "low", "current": "medium"},
        },
    },
    description="Fields of a customer changed through the customer API or the admin: each with its "
    "previous and current value. (Status changes made by another domain's event are announced by that "
    "event.)",
)
CUSTOMER_DELETED = register_event_type(
    "customer.deleted",
    label="Customer deleted",
    area="customers",
    example={"name": "Acme Analytics"},
)
HEALTH_SCORE_CHANGE = register_event_type(
    "health_score_change",
    label="Health score changed",
    area="customers",
    example={
        "previous_score": 80,
        "new_score": 65,
        "change_reason": "usage_decline",
        "trigger_events": ["login_frequency_drop", "support_tickets_increase"],
    },
    description="A customer's health score changed: from signals, a reported health change, a change "
    "by hand or the nightly recompute.",
)
CHURN_RISK_DETECTED = register_event_type(
    "churn_risk_detected",
    label="Churn risk detected",
    area="customers",
    critical=True,
    example={
        "risk_level": "high",
        "risk_indicators": ["login_frequency_drop", "health_score_drop"],
        "recommended_actions": ["schedule_check_in", "review_feature_adoption"],
    },
    description="The risk level crossed into high or critical, or the score fell CHURN_DROP_POINTS "
    "below its peak of the last CHURN_DROP_WINDOW_DAYS. Once per episode.",
)
