"""Expansion figures from the sales app, when it is present.

The sales app's public reads (``domains.sales.selectors.expansion_summary`` and
``expansion_pipeline_for_period``) give each customer's open, probability-weighted open and closed-won
expansion value. Without that app (not installed, or not providing those functions) every function here
returns None, and the callers say which figure they fell back to.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

from django.apps import apps

logger = logging.getLogger(__name__)
SALES_APP = "domains.sales"
SALES_SELECTORS = "domains.sales.selectors"


@dataclass(frozen=True)
class ExpansionFigures:
    open_value: Decimal
    weighted_open_value: Decimal
    won_value: Decimal


def _sales_selectors() -> ModuleType | None:
    if not apps.is_installed(SALES_APP):
        return None
    try:
        return importlib.import_module(SALES_SELECTORS)
    except ImportError:
        return None


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal("0")


def _figures(summaries: dict[str, Any]) -> dict[str, ExpansionFigures]:
    return {
        customer_id: ExpansionFigures(
            open_value=_decimal(getattr(summary, "open_value", 0)),
            weighted_open_value=_decimal(getattr(summary, "weighted_open_value", 0)),
            won_value=_decimal(getattr(summary, "won_value", 0)),
        )
        for customer_id, summary in summaries.items()
    }


def expansion_by_customer(*, customer_ids: list[str]) -> dict[str, ExpansionFigures] | None:
    """Each customer's expansion figures (customers without opportunities may be missing); None when the
    sales app is absent."""
    module = _sales_selectors()
    if module is None:
        return None
    try:
        summary = module.expansion_summary
    except AttributeError:
        return None
    return _figures(summary(customer_ids=list(customer_ids)))


def expansion_for_period(*, period_key: str) -> dict[str, ExpansionFigures] | None:
    """The open opportunities whose timeline falls in the period, per customer; None when the sales app
    is absent or does not know the period's form."""
    module = _sales_selectors()
    if module is None:
        return None
    try:
        pipeline = module.expansion_pipeline_for_period
    except AttributeError:
        return None
    try:
        return _figures(pipeline(forecast_period=period_key))
    except ValueError:
        logger.warning("The sales app does not accept the period %s; expansion left out.", period_key)
        return None
