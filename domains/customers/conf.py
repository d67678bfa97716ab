"""Tunables of the customers domain and its health engine, read from the environment."""

from csintegration.conf import AppSettings, Setting

conf = AppSettings(
    HEALTH_TREND_WINDOW_DAYS=Setting(int, 30, "days of scores the trend line is fitted through"),
    HEALTH_TREND_THRESHOLD_POINTS=Setting(
        float, 3.0, "points the line must rise (fall) over the window to read improving (declining)"
    ),
    CHURN_DROP_POINTS=Setting(int, 15, "a fall of this many points below the window's peak is churn risk"),
    CHURN_DROP_WINDOW_DAYS=Setting(int, 30, "the window of that peak"),
    HEALTH_RECOMPUTE_CHUNK_SIZE=Setting(int, 2000, "customers per transaction of the nightly recompute"),
    HEALTH_RECOMPUTE_WORKERS=Setting(
        int, 2, "threads of the nightly recompute on PostgreSQL, each on its own connection (1: none)"
    ),
)
