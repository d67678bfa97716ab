"""Tunables of the finance domain, read from the environment (``.env.example`` lists them)."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    FINANCE_OVERDUE_GRACE_DAYS=Setting(
        int, 0, "days after its due date before an unpaid payment counts as overdue (and as paid late)"
    ),
    FINANCE_OVERDUE_CHECK_SECONDS=Setting(
        int, 900, "how often beat checks every customer's overdue state (payments fall due by the calendar)"
    ),
    FINANCE_RENEWAL_GRACE_DAYS=Setting(
        int,
        30,
        "a contract is renewed when another of the customer runs past its end and starts at most this many "
        "days after it; one ended longer ago without such a successor is churned",
    ),
    FINANCE_RENEWAL_MIN_OUTCOMES=Setting(
        int, 200, "renewal outcomes needed to fit the renewal model; below, the documented prior is used"
    ),
    FINANCE_RENEWAL_MAX_OUTCOMES=Setting(
        int, 20000, "the most recent renewal outcomes the model is fitted on (bounds the nightly fit)"
    ),
    FINANCE_RENEWAL_HOLDOUT_PERCENT=Setting(
        int, 20, "share of outcomes (chosen by a hash of the contract id) held out to measure the Brier score"
    ),
    FINANCE_RENEWAL_RIDGE=Setting(
        float, 1.0, "L2 penalty on the renewal model's coefficients (not the intercept): keeps the fit finite"
    ),
    FINANCE_RENEWAL_PRIOR=Setting(
        "floats",
        [-1.0, 3.0, 0.4, 1.0, -2.0],
        "the prior's coefficients: intercept, health score / 100, trend (-1, 0, 1), adoption (0..1), "
        "share of payments paid late",
    ),
    FINANCE_PAYMENT_HISTORY_DAYS=Setting(
        int, 365, "days of payments (by due date) the renewal model's payment-history feature looks back"
    ),
    FINANCE_ATTRIBUTION_WINDOW_DAYS=Setting(
        int, 365, "days back over which saves and expansion are attributed to Customer Success"
    ),
    FINANCE_SAVE_RECOVERY_POINTS=Setting(
        int,
        10,
        "a churn-risk episode ends when a later score is this many points above the score of its alert "
        "and the risk level is low or medium",
    ),
    FINANCE_FORECAST_RELATIVE_TOLERANCE=Setting(
        float, 0.01, "a submitted amount within this share of the computed one is not a discrepancy"
    ),
    FINANCE_FORECAST_ABSOLUTE_TOLERANCE=Setting(
        float, 1.0, "nor is one within this many currency units (rounding)"
    ),
    FINANCE_FORECAST_CONFIDENCE_TOLERANCE=Setting(
        float, 0.01, "a submitted confidence_level within this of the computed one is not a discrepancy"
    ),
    FINANCE_FORECAST_MAX_LINES=Setting(int, 5000, "customer_forecasts a forecast may hold"),
)
