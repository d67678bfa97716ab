"""Tunables of the sales domain, read from the environment (the readiness model itself, with its threshold,
is kept in the database and edited in the admin)."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    SALES_SUCCESS_REVIEW_DAYS=Setting(
        int, 90, "days after onboarding_start that a handoff's success plan reviews its success criteria"
    ),
    SALES_READINESS_CHUNK_SIZE=Setting(
        int, 1000, "customers per transaction when every customer's expansion readiness is re-evaluated"
    ),
    SALES_READINESS_NIGHTLY_HOUR=Setting(
        int, 3, "hour (UTC) of the nightly re-evaluation of every customer's readiness (milestones age out)"
    ),
)
