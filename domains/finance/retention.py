"""Revenue and logo retention, pure: the rates from a period's ARR movements, on ChartMogul's definitions.

Each customer's ARR (its contracts in force, annualised) is compared on the period's first day and on its
last day (or today, for the period under way):

- **churned**: ARR at the start, none at the end (no contract left);
- **contraction**: less ARR at the end than at the start, but some;
- **expansion**: more at the end than at the start;
- **reactivation**: none at the start, some at the end, and a contract before the period (a returning
  customer); **new**: none at the start, some at the end, never a contract before.

    GRR = 1 - (churned + contraction) ÷ starting ARR
    NRR = 1 - (churned + contraction - expansion - reactivation) ÷ starting ARR

Reactivation counts in NRR by default, as ChartMogul counts it; ``include_reactivation=false`` leaves it
out, as Baremetrics does (it then counts as new business). Logo retention is the share of the customers
with ARR at the start that still have some at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RATE_DIGITS = 4


@dataclass(frozen=True)
class Movements:
    starting_arr: Decimal
    ending_arr: Decimal
    churned_arr: Decimal
    contraction_arr: Decimal
    expansion_arr: Decimal
    reactivation_arr: Decimal
    new_arr: Decimal
    starting_customers: int
    retained_customers: int
    churned_customers: int
    reactivated_customers: int
    new_customers: int


@dataclass(frozen=True)
class Rates:
    grr: float | None
    nrr: float | None
    logo_retention: float | None


def retention_rates(movements: Movements, *, include_reactivation: bool) -> Rates:
    start = movements.starting_arr
    if start <= 0:
        grr = nrr = None
    else:
        lost = movements.churned_arr + movements.contraction_arr
        gained = movements.expansion_arr + (movements.reactivation_arr if include_reactivation else 0)
        grr = round(float(1 - lost / start), RATE_DIGITS)
        nrr = round(float(1 - (lost - gained) / start), RATE_DIGITS)
    logos = (
        round(movements.retained_customers / movements.starting_customers, RATE_DIGITS)
        if movements.starting_customers
        else None
    )
    return Rates(grr=grr, nrr=nrr, logo_retention=logos)
