"""Serializer fields of the finance API: amounts of money as strict JSON numbers, periods, and dates that
may not lie in the future."""

from datetime import date, datetime, timedelta

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateField, WithinClock, not_in_future
from csintegration.api.fields import StrictDecimalField

from ..periods import ANY_PERIOD_PATTERN, QUARTER_OR_MONTH_PATTERN, Period, PeriodError, parse_period

MONEY_DIGITS = {"max_digits": 14, "decimal_places": 2}


class MoneyField(StrictDecimalField):
    """An amount as a JSON number (no strings, booleans, NaN or infinity), rounded to the cent, shown as a
    number; its range is the one the OpenAPI document states (``StrictDecimalField``)."""

    def __init__(self, **kwargs) -> None:
        for name, value in MONEY_DIGITS.items():
            kwargs.setdefault(name, value)
        kwargs.setdefault("coerce_to_string", False)
        super().__init__(**kwargs)


class ComputedMoneyField(serializers.DecimalField):
    """A computed amount (read-only), to the cent, as a number."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", False)
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)


class PeriodField(serializers.Field):
    """A period such as ``2026-q2``, ``q2_2026`` or ``2026-03`` (``2026`` too where years are allowed);
    validated to a ``Period`` in its normal form."""

    default_error_messages = {"invalid": "A period is a string such as 2026-q2, q2_2026 or 2026-03."}

    def __init__(self, *, allow_year: bool = False, **kwargs) -> None:
        self.allow_year = allow_year
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> Period:
        if not isinstance(data, str) or len(data) > 20:
            self.fail("invalid")
        try:
            return parse_period(data, allow_year=self.allow_year)
        except PeriodError as exc:
            raise serializers.ValidationError(str(exc), code="invalid_period") from None

    def to_representation(self, value) -> str:
        return value.key if isinstance(value, Period) else str(value)


@extend_schema_field({"type": "string", "pattern": ANY_PERIOD_PATTERN, "example": "2026-q2"})
class AnyPeriodField(PeriodField):
    def __init__(self, **kwargs) -> None:
        super().__init__(allow_year=True, **kwargs)


@extend_schema_field({"type": "string", "pattern": QUARTER_OR_MONTH_PATTERN, "example": "2026-q2"})
class QuarterOrMonthField(PeriodField):
    pass


#: the dates the finance records accept (a typo such as 0202 or 9999 is refused, not stored)
EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(2199, 12, 31)


class BusinessDateField(RFC3339DateField):
    """A date of a finance record: ``YYYY-MM-DD`` from ``EARLIEST_DATE`` to ``LATEST_DATE``, the range
    its published pattern states."""

    def __init__(self, **kwargs) -> None:
        super().__init__(first_year=EARLIEST_DATE.year, last_year=LATEST_DATE.year, **kwargs)


def business_date(value):
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise serializers.ValidationError(
            f"Use a date from {EARLIEST_DATE} to {LATEST_DATE}.", code="out_of_range"
        )
    return value


#: a reported time may not lie in the future, a payment's date not after today
not_in_future_datetime = not_in_future
not_in_future_date = WithinClock((None, timedelta(0)), too_late=("This date is in the future.", "future"))
