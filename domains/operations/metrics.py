"""The operations domain's own Prometheus metrics."""

from prometheus_client import Counter

workflow_runs = Counter(
    "csi_workflow_runs_total",
    "Workflow runs finished, by workflow type and outcome",
    ["workflow_type", "outcome"],
)
