"""A stand-in for ``domains.sales.selectors``: the two public reads the finance app calls, answering from
dictionaries a test fills. The ``sales_present`` fixture installs it in place of the real module."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class ExpansionSummary:
    open_value: Decimal
    weighted_open_value: Decimal
    won_value: Decimal


#: customer_id -> summary over all its opportunities
SUMMARIES: dict[str, ExpansionSummary] = {}
#: forecast period (as the finance app passes it) -> customer_id -> summary of its open opportunities
PIPELINES: dict[str, dict[str, ExpansionSummary]] = {}
#: the calls received, to check what the finance app asked
CALLS: list[tuple[str, object]] = []


def expansion_summary(*, customer_ids: list[str] | None = None) -> dict[str, ExpansionSummary]:
    CALLS.append(("expansion_summary", customer_ids))
    return {key: value for key, value in SUMMARIES.items() if customer_ids is None or key in customer_ids}


def expansion_pipeline_for_period(*, forecast_period: str) -> dict[str, ExpansionSummary]:
    CALLS.append(("expansion_pipeline_for_period", forecast_period))
    return dict(PIPELINES.get(forecast_period, {}))


def reset() -> None:
    SUMMARIES.clear()
    PIPELINES.clear()
    CALLS.clear()
