"""The customers domain's own Prometheus metrics."""

from prometheus_client import Histogram

recompute_duration = Histogram(
    "csi_health_recompute_duration_seconds",
    "Duration of a whole recompute of every customer's health (the nightly job)",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
