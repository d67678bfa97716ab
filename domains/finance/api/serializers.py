"""Bodies of the finance API: contracts, payments and value reports as stored; the value realisation of
a customer; forecasts as submitted and as recomputed; the platform's forecast of a period; retention."""

from decimal import Decimal

from rest_framework import serializers

from csintegration.api.datetimes import RFC3339DateTimeField
from csintegration.api.fields import LabelField, PrefixedIdField, StrictFloatField
from csintegration.api.updates import CreateOnlyFieldsMixin

from .. import selectors
from ..conf import conf
from ..models import Contract, ModelBasis, Payment, ValueReport
from .fields import (
    AnyPeriodField,
    BusinessDateField,
    ComputedMoneyField,
    MoneyField,
    QuarterOrMonthField,
    business_date,
    not_in_future_date,
    not_in_future_datetime,
)

CUSTOMER_ID_PREFIX = "cust"
CONTRACT_ID_PREFIX = "ctr"
PAYMENT_ID_PREFIX = "pay"
VALUE_REPORT_ID_PREFIX = "vr"
FORECAST_ID_PREFIX = "fc"
MAX_RISK_FACTORS = 50
MAX_NOTE_LENGTH = 5000


class CustomerReferenceMixin(CreateOnlyFieldsMixin):
    """``customer_id`` names an existing customer and, once stored, cannot change."""

    create_only_fields = ("customer_id",)

    def validate_customer_id(self, value: str) -> str:
        if self.instance is not None:
            return value
        if not selectors.existing_customer_ids(customer_ids=[value]):
            raise serializers.ValidationError(f"Customer {value} does not exist.", code="not_found")
        return value


# --- Contracts --------------------------------------------------------------------------------------------


class ContractSerializer(CustomerReferenceMixin, serializers.Serializer):
    contract_id = serializers.CharField(read_only=True, help_text="`ctr_…`")
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    contracted_value = MoneyField(min_value=Decimal("0"), help_text="The value over the whole term")
    start_date = BusinessDateField(help_text="First day in force")
    end_date = BusinessDateField(help_text="Last day in force (inclusive)")
    arr = ComputedMoneyField(
        help_text="Annual recurring revenue of this contract: contracted_value * 12 ÷ its term in calendar "
        "months (whole months from the start date, then the remaining days as a share of their month)"
    )
    in_force = serializers.SerializerMethodField(help_text="Whether today lies within the term")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_in_force(self, contract: Contract) -> bool:
        return contract.in_force_on(selectors.today())

    def validate(self, attrs):
        start = attrs.get("start_date", getattr(self.instance, "start_date", None))
        end = attrs.get("end_date", getattr(self.instance, "end_date", None))
        if start and end and end < start:
            raise serializers.ValidationError(
                {"end_date": ["A contract ends on or after its start date."]}, code="before_start"
            )
        return attrs


# --- Payments ---------------------------------------------------------------------------------------------


class PaymentSerializer(CustomerReferenceMixin, serializers.Serializer):
    payment_id = serializers.CharField(read_only=True, help_text="`pay_…`")
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    contract_id = PrefixedIdField(
        prefix=CONTRACT_ID_PREFIX,
        required=False,
        allow_null=True,
        help_text="The contract it is billed under (a contract of the same customer), if any",
    )
    amount = MoneyField(min_value=Decimal("0.01"))
    due_date = BusinessDateField()
    paid_date = BusinessDateField(
        required=False,
        allow_null=True,
        validators=[not_in_future_date],
        help_text="When it was paid; null while unpaid (set it to pay, clear it if the payment bounced)",
    )
    status = serializers.SerializerMethodField(
        help_text="`paid` once paid_date is set; `overdue` while unpaid more than FINANCE_OVERDUE_GRACE_DAYS "
        "(default 0) past due_date, as of today; else `open`"
    )
    days_overdue = serializers.SerializerMethodField(
        help_text="Days from due_date to today while overdue, else 0"
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_status(self, payment: Payment) -> str:
        return payment.status_on(selectors.today(), conf.FINANCE_OVERDUE_GRACE_DAYS)

    def get_days_overdue(self, payment: Payment) -> int:
        return payment.days_overdue(selectors.today(), conf.FINANCE_OVERDUE_GRACE_DAYS)

    def validate(self, attrs):
        contract_id = attrs.pop("contract_id", serializers.empty)
        if contract_id is not serializers.empty:
            attrs["contract"] = None
            if contract_id is not None:
                customer_id = attrs.get("customer_id", getattr(self.instance, "customer_id", None))
                contract = Contract.objects.filter(contract_id=contract_id, customer_id=customer_id).first()
                if contract is None:
                    raise serializers.ValidationError(
                        {"contract_id": [f"No contract {contract_id} of this customer."]}, code="not_found"
                    )
                attrs["contract"] = contract
        return attrs


# --- Value reports ----------------------------------------------------------------------------------------


class ValueReportSerializer(CustomerReferenceMixin, serializers.Serializer):
    """A value report as written. The note is not echoed: a POST's answer may be kept for an
    Idempotency-Key replay, and the note is kept only encrypted. GET shows it."""

    value_report_id = serializers.CharField(read_only=True, help_text="`vr_…`")
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    realized_value = MoneyField(
        min_value=Decimal("0"), help_text="The value the customer has realised so far (cumulative)"
    )
    reported_at = RFC3339DateTimeField(
        required=False,
        validators=[business_date, not_in_future_datetime],
        help_text="When it was measured (default: now)",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=MAX_NOTE_LENGTH,
        help_text="Free text, stored encrypted; never in events or in a stored answer",
    )
    has_note = serializers.SerializerMethodField(help_text="Whether the report carries a note")
    created_at = serializers.DateTimeField(read_only=True)

    def get_has_note(self, report: ValueReport) -> bool:
        return bool(report.note)


class ValueReportDetailSerializer(ValueReportSerializer):
    """A value report as read, with its note."""

    note = serializers.CharField(read_only=True, help_text="Free text (stored encrypted)")


# --- Value realisation of a customer --------------------------------------------------------------------


class ValueRealizationSerializer(serializers.Serializer):
    contracted_value = ComputedMoneyField(
        help_text="Sum of the contracted_value of the customer's contracts in force today (each over its "
        "whole term)"
    )
    realized_value = ComputedMoneyField(
        allow_null=True, help_text="realized_value of the customer's latest value report; null without one"
    )
    roi_percentage = serializers.IntegerField(
        allow_null=True,
        help_text="round(100 * realized_value ÷ contracted_value), half up; null without a value report or "
        "a contract in force",
    )
    realization_timeline = serializers.CharField(
        allow_null=True,
        help_text='Whole calendar months (e.g. "18_months") from the start of the earliest contract in force '
        "to the first value report, at or after it, whose realised value reached contracted_value; null "
        "while none has",
    )
    current_arr = ComputedMoneyField(help_text="Sum of the ARR of the contracts in force today")


class RevenueAttributionSerializer(serializers.Serializer):
    success_contribution = serializers.FloatField(
        allow_null=True,
        help_text="(churn_prevention_value + expansion_revenue) ÷ current_arr, at most 1, two decimals: the "
        "share of today's ARR that saves kept or expansion added; null without ARR in force",
    )
    churn_prevention_value = ComputedMoneyField(
        help_text="ARR kept by saves whose churn-risk episode ended within the last "
        "FINANCE_ATTRIBUTION_WINDOW_DAYS (365): an episode starts at a churn_risk_detected alert and ends at "
        "the first later score FINANCE_SAVE_RECOVERY_POINTS (10) above the alert's score with risk low or "
        "medium; it is a save when a contract was still in force that day, worth the smaller of the ARR in "
        "force on the alert's day and on that day"
    )
    expansion_revenue = ComputedMoneyField(
        help_text="With the sales app: the value of the customer's closed-won expansion opportunities. "
        "Without it: the growth of the customer's contracted ARR over the last "
        "FINANCE_ATTRIBUTION_WINDOW_DAYS (0 when it had none then). expansion_revenue_basis says which"
    )
    saves = serializers.IntegerField(help_text="Saves counted in churn_prevention_value")
    expansion_revenue_basis = serializers.ChoiceField(choices=["sales_closed_won", "contract_arr_growth"])


class RenewalModelSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(
        choices=ModelBasis.choices,
        help_text="`fitted` on the platform's own renewal outcomes when at least "
        "FINANCE_RENEWAL_MIN_OUTCOMES (200) are known, else the documented `prior`",
    )
    outcomes = serializers.IntegerField(
        help_text="Contracts with a known renewal outcome when fitted (at most FINANCE_RENEWAL_MAX_OUTCOMES, "
        "the most recent)"
    )
    training_outcomes = serializers.IntegerField(help_text="Outcomes the fit used (0 for the prior)")
    holdout_outcomes = serializers.IntegerField(
        help_text="Outcomes the Brier score was measured on: the held-out share (a hash of the contract id) "
        "for a fit, every outcome for the prior"
    )
    brier_score = serializers.FloatField(
        allow_null=True,
        help_text="Mean of (probability - outcome)² over the held-out outcomes: 0 is perfect, 0.25 a coin "
        "toss; null without outcomes",
    )
    baseline_brier_score = serializers.FloatField(
        allow_null=True,
        help_text="The same for always predicting the training set's renewal rate (a fit should beat it)",
    )
    coefficients = serializers.DictField(
        child=serializers.FloatField(),
        help_text="intercept, health_score (÷ 100), health_trend (1, 0, -1), adoption_rate (0..1, 0.5 when "
        "unknown), late_payment_share",
    )
    fitted_at = serializers.DateTimeField()


class FinancialHealthSerializer(serializers.Serializer):
    payment_status = serializers.ChoiceField(
        choices=["current", "overdue"],
        help_text="overdue while a payment is unpaid more than FINANCE_OVERDUE_GRACE_DAYS past its due date",
    )
    renewal_probability = serializers.FloatField(
        help_text="The renewal model's probability for the customer's health score, trend, adoption rate "
        "today and its late_payment_share"
    )
    expansion_pipeline = ComputedMoneyField(
        allow_null=True,
        help_text="Sum of the value of the customer's open expansion opportunities (sales app); null without "
        "the sales app",
    )
    weighted_expansion_pipeline = ComputedMoneyField(
        allow_null=True, help_text="The same, each weighted by its probability; null without the sales app"
    )
    expansion_pipeline_basis = serializers.ChoiceField(choices=["sales_pipeline", "sales_app_absent"])
    late_payment_share = serializers.FloatField(
        help_text="Share of the payments due in the last FINANCE_PAYMENT_HISTORY_DAYS (365), past their "
        "grace, that were paid after it or not at all (0 without any)"
    )
    renewal_model = RenewalModelSerializer()


class CustomerValueSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    value_realization = ValueRealizationSerializer()
    revenue_attribution = RevenueAttributionSerializer()
    financial_health = FinancialHealthSerializer()


# --- Forecasts ------------------------------------------------------------------------------------------


class CustomerForecastSerializer(serializers.Serializer):
    customer_id = PrefixedIdField(prefix=CUSTOMER_ID_PREFIX)
    renewal_probability = StrictFloatField(min_value=0, max_value=1)
    expansion_probability = StrictFloatField(min_value=0, max_value=1, required=False, default=0.0)
    expansion_value = MoneyField(min_value=Decimal("0"), required=False, default=Decimal("0"))
    risk_factors = serializers.ListField(
        child=LabelField(), max_length=MAX_RISK_FACTORS, required=False, default=list
    )


class AggregateMetricsSerializer(serializers.Serializer):
    total_forecasted_revenue = MoneyField(
        max_digits=16, min_value=Decimal("0"), required=False, allow_null=True
    )
    confidence_level = StrictFloatField(min_value=0, max_value=1, required=False, allow_null=True)
    risk_adjusted_value = MoneyField(max_digits=16, min_value=Decimal("0"), required=False, allow_null=True)


class ForecastRequestSerializer(serializers.Serializer):
    forecast_period = QuarterOrMonthField(help_text="A quarter or a month: 2026-q2, q2_2026 or 2026-03")
    customer_forecasts = serializers.ListField(child=CustomerForecastSerializer(), min_length=1)
    aggregate_metrics = AggregateMetricsSerializer(
        required=False, help_text="The sender's aggregates; the server recomputes them and lists differences"
    )

    def validate_customer_forecasts(self, lines):
        if len(lines) > conf.FINANCE_FORECAST_MAX_LINES:
            raise serializers.ValidationError(
                f"At most {conf.FINANCE_FORECAST_MAX_LINES} customer forecasts.", code="max_length"
            )
        known = selectors.existing_customer_ids(customer_ids=[line["customer_id"] for line in lines])
        errors: list[dict] = []
        seen: set[str] = set()
        for line in lines:
            customer_id = line["customer_id"]
            if customer_id in seen:
                errors.append({"customer_id": [f"{customer_id} has another line in this forecast."]})
            elif customer_id not in known:
                errors.append({"customer_id": [f"Customer {customer_id} does not exist."]})
            else:
                errors.append({})
            seen.add(customer_id)
        if any(errors):
            raise serializers.ValidationError(errors)
        return lines


class AggregatesSerializer(serializers.Serializer):
    total_forecasted_revenue = serializers.FloatField(
        help_text="Σ over the lines of renewal value + expansion value, where the renewal value is the "
        "contracted_value of the customer's stored contracts ending within the period"
    )
    confidence_level = serializers.FloatField(
        allow_null=True,
        help_text="risk_adjusted_value ÷ total_forecasted_revenue: the value-weighted mean probability; "
        "null when nothing is at stake",
    )
    risk_adjusted_value = serializers.FloatField(
        help_text="Σ renewal value * renewal probability + expansion value * expansion probability"
    )
    renewal_value = serializers.FloatField(help_text="Σ renewal value")
    expansion_value = serializers.FloatField(help_text="Σ expansion value")
    risk_adjusted_renewal_value = serializers.FloatField(help_text="Σ renewal value * renewal probability")
    risk_adjusted_expansion_value = serializers.FloatField(
        help_text="Σ expansion value * expansion probability"
    )
    customers = serializers.IntegerField(help_text="Lines counted")


class ComputedForecastSerializer(AggregatesSerializer):
    unforecast_renewal_value = serializers.FloatField(
        help_text="Contracted value ending within the period of customers the forecast has no line for"
    )
    unforecast_customers = serializers.IntegerField(
        help_text="Customers with a contract ending within the period and no line"
    )


class DiscrepancySerializer(serializers.Serializer):
    field = serializers.CharField(help_text="e.g. aggregate_metrics.risk_adjusted_value")
    submitted = serializers.FloatField()
    computed = serializers.FloatField(allow_null=True)
    difference = serializers.FloatField(allow_null=True, help_text="submitted - computed")
    tolerance = serializers.FloatField(
        allow_null=True,
        help_text="The difference allowed: the larger of FINANCE_FORECAST_RELATIVE_TOLERANCE (1 %) of the "
        "computed amount and FINANCE_FORECAST_ABSOLUTE_TOLERANCE (1); FINANCE_FORECAST_CONFIDENCE_TOLERANCE "
        "(0.01) for confidence_level",
    )


class SubmittedAggregatesSerializer(serializers.Serializer):
    total_forecasted_revenue = serializers.FloatField(required=False)
    confidence_level = serializers.FloatField(required=False)
    risk_adjusted_value = serializers.FloatField(required=False)


class ForecastLineResultSerializer(serializers.Serializer):
    customer_id = serializers.CharField()
    renewal_value = ComputedMoneyField(
        help_text="contracted_value of the customer's contracts ending within the period"
    )
    renewal_probability = serializers.FloatField()
    expansion_value = ComputedMoneyField()
    expansion_probability = serializers.FloatField()
    risk_adjusted_value = ComputedMoneyField(
        help_text="renewal_value * renewal_probability + expansion_value * expansion_probability"
    )
    risk_factors = serializers.ListField(child=serializers.CharField())


class ForecastResponseSerializer(serializers.Serializer):
    forecast_id = serializers.CharField(help_text="`fc_…`")
    forecast_period = serializers.CharField(help_text="Normal form: 2026-q2 or 2026-03")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    submitted = SubmittedAggregatesSerializer(help_text="aggregate_metrics as sent")
    computed = ComputedForecastSerializer()
    discrepancies = DiscrepancySerializer(many=True)
    lines = ForecastLineResultSerializer(many=True)
    submitted_at = serializers.DateTimeField()


class PlatformForecastSerializer(AggregatesSerializer):
    expansion_pipeline_basis = serializers.ChoiceField(
        choices=["sales_pipeline", "sales_app_absent"],
        help_text="sales_pipeline: open opportunities whose timeline falls in the period, each weighted by "
        "its probability; sales_app_absent: no expansion counted",
    )
    renewal_model = RenewalModelSerializer()


class CalibrationSerializer(serializers.Serializer):
    outcomes_known = serializers.IntegerField(
        help_text="Lines whose customer had a contract ending in the period with a known outcome"
    )
    brier_score = serializers.FloatField(
        allow_null=True,
        help_text="Mean of (renewal_probability - outcome)² over those lines (1 renewed, 0 churned)",
    )


class SubmittedForecastSerializer(serializers.Serializer):
    forecast_id = serializers.CharField()
    forecast_period = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    submitted = SubmittedAggregatesSerializer()
    computed = ComputedForecastSerializer()
    discrepancies = DiscrepancySerializer(many=True)
    calibration = CalibrationSerializer()


class ForecastDifferenceSerializer(serializers.Serializer):
    total_forecasted_revenue = serializers.FloatField(
        help_text="The latest submitted forecast's computed total minus the platform's"
    )
    risk_adjusted_value = serializers.FloatField(
        help_text="The latest submitted forecast's computed risk-adjusted value minus the platform's"
    )


class PeriodActualsSerializer(serializers.Serializer):
    renewal_value = serializers.FloatField(
        help_text="Contracted value of every contract ending in the period"
    )
    renewed_value = serializers.FloatField(
        help_text="Of customers with one of those contracts followed by another (a renewal)"
    )
    churned_value = serializers.FloatField(
        help_text="Of customers none of whose contracts was followed within FINANCE_RENEWAL_GRACE_DAYS"
    )
    pending_value = serializers.FloatField(help_text="Of customers whose outcome is not known yet")
    customers_renewed = serializers.IntegerField()
    customers_churned = serializers.IntegerField()
    customers_pending = serializers.IntegerField()


class ForecastPeriodSerializer(serializers.Serializer):
    forecast_period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    platform = PlatformForecastSerializer(
        help_text="The platform's forecast: every customer with a contract ending in the period, its "
        "contracted value weighted by the renewal model's probability, plus expansion"
    )
    latest_submitted = SubmittedForecastSerializer(
        allow_null=True, help_text="The latest forecast submitted for the period, with its calibration"
    )
    difference = ForecastDifferenceSerializer(allow_null=True)
    actuals = PeriodActualsSerializer(help_text="What became of the contracts ending in the period so far")


# --- Retention -------------------------------------------------------------------------------------------


class RetentionSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="Normal form: 2026-q1, 2026-03 or 2026")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    measured_on = serializers.DateField(help_text="The period's last day, or today while it is under way")
    complete = serializers.BooleanField(help_text="False while the period is under way")
    include_reactivation = serializers.BooleanField()
    starting_arr = ComputedMoneyField(
        help_text="Σ ARR of the contracts in force on period_start, over every customer"
    )
    ending_arr = ComputedMoneyField(help_text="Σ ARR of the contracts in force on measured_on")
    churned_arr = ComputedMoneyField(
        help_text="Starting ARR of the customers with no contract in force on measured_on"
    )
    contraction_arr = ComputedMoneyField(
        help_text="Of customers with less (but some) ARR on measured_on than on period_start: the decrease"
    )
    expansion_arr = ComputedMoneyField(
        help_text="Of customers with ARR on period_start and more on measured_on: the increase"
    )
    reactivation_arr = ComputedMoneyField(
        help_text="ARR on measured_on of customers with none on period_start but a contract before it"
    )
    new_arr = ComputedMoneyField(
        help_text="ARR on measured_on of customers with no contract before the period"
    )
    grr = serializers.FloatField(
        allow_null=True, help_text="1 - (churned_arr + contraction_arr) ÷ starting_arr; null without ARR"
    )
    nrr = serializers.FloatField(
        allow_null=True,
        help_text="1 - (churned_arr + contraction_arr - expansion_arr - reactivation_arr) ÷ starting_arr, "
        "reactivation_arr counted only with include_reactivation (the default, as ChartMogul); null without "
        "ARR",
    )
    logo_retention = serializers.FloatField(
        allow_null=True,
        help_text="retained_customers ÷ starting_customers: the share of customers with ARR on period_start "
        "that still have some on measured_on",
    )
    starting_customers = serializers.IntegerField()
    retained_customers = serializers.IntegerField()
    churned_customers = serializers.IntegerField()
    reactivated_customers = serializers.IntegerField()
    new_customers = serializers.IntegerField()


class RetentionQuerySerializer(serializers.Serializer):
    period = AnyPeriodField()
    include_reactivation = serializers.ChoiceField(choices=["true", "false"], required=False, default="true")

    def validate_period(self, period):
        if period.start > selectors.today():
            raise serializers.ValidationError("This period has not started yet.", code="future")
        return period
