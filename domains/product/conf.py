"""Tunables of the product domain, read from the environment (``.env.example`` lists them)."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    PRODUCT_MAX_WINDOW_DAYS=Setting(
        int, 90, "the longest adoption window a feature or a query may use (days, today included)"
    ),
    PRODUCT_USAGE_RETENTION_DAYS=Setting(
        int, 400, "daily usage older than this is deleted nightly (never less than the longest window)"
    ),
    PRODUCT_USAGE_FUTURE_DAYS=Setting(
        int, 1, "how many days after today (UTC) a usage date may be, for customers ahead of UTC"
    ),
    PRODUCT_PROFILE_SYNC_INTERVAL_SECONDS=Setting(
        int, 60, "how often customer changes (health, segment, stage) are brought into the adoption figures"
    ),
    PRODUCT_PROFILE_SYNC_OVERLAP_SECONDS=Setting(
        int, 120, "each sync looks this far behind the last one, for transactions that committed late"
    ),
    PRODUCT_SYNC_CHUNK_SIZE=Setting(int, 2000, "customers per transaction of the profile sync and rebuilds"),
    PRODUCT_HEALTH_IMPACT_BANDS=Setting(
        "floats",
        [0.5, 0.3, 0.1],
        "adoption_success_link at or above each bound reads high, medium, low (else none; negative "
        "at or below minus the last)",
    ),
    PRODUCT_LOW_ADOPTION_SHARE=Setting(
        float, 0.5, "a segment adopting below this share calls for enhanced_onboarding"
    ),
    PRODUCT_SEGMENT_GAP=Setting(float, 0.15, "so does a segment this far below the overall adoption"),
    PRODUCT_WEAK_LINK=Setting(float, 0.3, "an adoption_success_link below this calls for training_content"),
    PRODUCT_FALLING_ADOPTION_DROP=Setting(
        float, 0.05, "adoption this far below its level one window ago calls for feature_discovery"
    ),
    PRODUCT_RULES_MIN_CUSTOMERS=Setting(
        int, 10, "fewer customers than this in a figure and no rule reads anything into it"
    ),
    PRODUCT_LAPSE_LOOKBACK_DAYS=Setting(
        int, 3, "the nightly job refreshes adoption rates of adoptions that lapsed this many days back"
    ),
    PRODUCT_FEEDBACK_WEIGHTS=Setting(
        "floats",
        [0.35, 0.25, 0.25, 0.15],
        "weights of declared priority, business impact, ARR and health risk in priority_score",
    ),
    PRODUCT_FEEDBACK_ARR_CAP=Setting(
        float, 1_000_000.0, "the ARR at which the ARR term of priority_score is full (log scale below)"
    ),
)
