"""The event types the finance domain publishes (area ``finance``: receivers need finance:read)."""

from csintegration.events import register_event_type

PAYMENT_OVERDUE = register_event_type(
    "payment_overdue",
    label="Payment overdue",
    area="finance",
    example={
        "payment_id": "pay_01jd3k7m2q8x4w6v9b5n0r1t2y",
        "amount": 12500,
        "due_date": "2025-11-30",
        "days_overdue": 5,
        "overdue_payments": 1,
        "overdue_amount": 12500,
    },
    description="The customer went from no overdue payment to at least one: a payment is unpaid more "
    "than FINANCE_OVERDUE_GRACE_DAYS past its due date. `payment_id`, `amount`, `due_date` and "
    "`days_overdue` are those of its oldest overdue payment. The customers app sets "
    "`integration_status.finance` to overdue. Published once per change of state.",
)
PAYMENTS_CURRENT = register_event_type(
    "payments_current",
    label="Payments current",
    area="finance",
    example={"payment_id": "pay_01jd3k7m2q8x4w6v9b5n0r1t2y", "overdue_since": "2025-11-30"},
    description="The customer, overdue before, has no overdue payment any more. `payment_id` is the "
    "payment whose settlement (or correction) made it current; `overdue_since` the due date it had been "
    "overdue since. The customers app sets `integration_status.finance` to current.",
)
FORECAST_SUBMITTED = register_event_type(
    "forecast_submitted",
    label="Revenue forecast submitted",
    area="finance",
    customer_scoped=False,
    example={
        "forecast_id": "fc_01jd3k7m2q8x4w6v9b5n0r1t2y",
        "forecast_period": "2026-q2",
        "submitted": {
            "total_forecasted_revenue": 2500000,
            "confidence_level": 0.88,
            "risk_adjusted_value": 2200000,
        },
        "computed": {
            "total_forecasted_revenue": 2410000.0,
            "confidence_level": 0.8714,
            "risk_adjusted_value": 2100000.0,
            "renewal_value": 2300000.0,
            "expansion_value": 110000.0,
            "risk_adjusted_renewal_value": 2030000.0,
            "risk_adjusted_expansion_value": 70000.0,
            "customers": 42,
        },
        "discrepancies": [
            {
                "field": "aggregate_metrics.total_forecasted_revenue",
                "submitted": 2500000,
                "computed": 2410000.0,
                "difference": 90000.0,
                "tolerance": 24100.0,
            }
        ],
    },
    description="A revenue forecast was submitted: its aggregates as sent, the server's recomputation "
    "from its lines and the stored contracts, and each aggregate that differs beyond its tolerance.",
)
