"""The event types the product domain publishes (area ``product``: receivers need product:read).

No payload carries a feedback's description: it is encrypted at rest and stays in the database.
"""

from csintegration.events import register_event_type

FEEDBACK_SUBMITTED = register_event_type(
    "feedback_submitted",
    label="Product feedback submitted",
    area="product",
    example={
        "feedback_id": "fb_01jd3k7x2m9q8r5t4v6w0y1z2a",
        "type": "feature_request",
        "category": "workflow_automation",
        "priority": "high",
        "business_impact": "critical_for_success",
        "priority_score": 78.4,
        "status": "new",
    },
    description="A customer's feedback reached the product team, with its priority score (0 to 100). "
    "The description is not in the event: read it with GET /api/v1/cs-product/feedback/{feedback_id}.",
)
FEEDBACK_STATUS_CHANGED = register_event_type(
    "feedback_status_changed",
    label="Product feedback status changed",
    area="product",
    example={
        "feedback_id": "fb_01jd3k7x2m9q8r5t4v6w0y1z2a",
        "from_status": "under_review",
        "to_status": "planned",
        "committed_release": "2026.03",
        "committed_by": "product-roadmap-client",
        "priority_score": 78.4,
    },
    description="A feedback moved through its delivery workflow (new, under_review, planned, in_progress, "
    "delivered, declined); committed_release and committed_by are empty strings when there is no "
    "commitment.",
)
FEEDBACK_COMMITMENT_CHANGED = register_event_type(
    "feedback_commitment_changed",
    label="Product feedback commitment changed",
    area="product",
    example={
        "feedback_id": "fb_01jd3k7x2m9q8r5t4v6w0y1z2a",
        "status": "planned",
        "previous_release": "2026.03",
        "committed_release": "2026.04",
        "committed_by": "product-roadmap-client",
    },
    description="The release a planned or in-progress feedback is committed to changed, its status not.",
)
FEATURE_ADOPTED = register_event_type(
    "feature_adopted",
    label="Feature adopted",
    area="product",
    example={
        "feature_id": "feat_analytics",
        "adoption_threshold": 5,
        "window_days": 30,
        "adopted_from": "2025-11-20",
    },
    description="A customer's usage of a feature reached its adoption threshold within its window "
    "(and had not before). adopted_from: the day from which its usage up to now reaches the threshold.",
)
