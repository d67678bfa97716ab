"""A step action that does nothing, for ``bench/operations_workflows.py``'s baselines: loaded by the
benchmark's worker through ``OPERATIONS_ACTION_MODULES`` (never in production)."""

from domains.operations.actions import register_step_action


@register_step_action("bench_noop", label="Does nothing (benchmark baseline)")
def bench_noop(context, params):
    return {}
