"""Finance: contracts (and their annualised value), payments and each customer's overdue standing, value
reports, submitted revenue forecasts with the server's recomputation, and the fitted renewal model."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from csintegration.encryption.fields import EncryptedTextField
from csintegration.ids import new_id
from domains.customers.models import Customer

from .terms import annualised_value

MONEY = {"max_digits": 14, "decimal_places": 2}
#: computed amounts: an annualised value (a short term's ARR is many times its value) or a sum of amounts
COMPUTED_MONEY = {"max_digits": 18, "decimal_places": 2}


def new_contract_id() -> str:
    return new_id("ctr")


def new_payment_id() -> str:
    return new_id("pay")


def new_value_report_id() -> str:
    return new_id("vr")


def new_forecast_id() -> str:
    return new_id("fc")


class Contract(models.Model):
    """What a customer contracted to pay over a term; in force from ``start_date`` through ``end_date``."""

    contract_id = models.CharField(primary_key=True, max_length=64, default=new_contract_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="finance_contracts")
    contracted_value = models.DecimalField(
        **MONEY, validators=[MinValueValidator(0)], help_text="The value over the whole term"
    )
    start_date = models.DateField()
    end_date = models.DateField(help_text="The last day in force (inclusive)")
    #: contracted_value annualised over the term (terms.py), kept so that ARR is summed in the database
    arr = models.DecimalField("ARR", **COMPUTED_MONEY, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-contract_id")
        indexes = [
            models.Index(fields=["customer", "end_date"], name="finance_contract_customer_idx"),
            models.Index(fields=["end_date", "start_date"], name="finance_contract_dates_idx"),
            models.Index(fields=["-created_at", "-contract_id"], name="finance_contract_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="finance_contract_term_ordered"
            ),
            models.CheckConstraint(
                condition=Q(contracted_value__gte=0), name="finance_contract_value_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} ({self.customer_id}, {self.start_date} to {self.end_date})"

    def save(self, *args, **kwargs) -> None:
        self.arr = annualised_value(self.contracted_value, self.start_date, self.end_date)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"contracted_value", "start_date", "end_date"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "arr"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "A contract ends on or after its start date."})

    def in_force_on(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date


class PaymentStatus(models.TextChoices):
    OPEN = "open", "Open (not yet due)"
    OVERDUE = "overdue", "Overdue"
    PAID = "paid", "Paid"


class Payment(models.Model):
    """An amount a customer owes by ``due_date``; paid once ``paid_date`` is set."""

    payment_id = models.CharField(primary_key=True, max_length=64, default=new_payment_id, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="finance_payments")
    contract = models.ForeignKey(
        Contract, on_delete=models.SET_NULL, null=True, blank=True, related_name="payments"
    )
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    due_date = models.DateField()
    paid_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-payment_id")
        indexes = [
            models.Index(fields=["customer", "due_date"], name="finance_payment_customer_idx"),
            models.Index(
                fields=["due_date"], name="finance_payment_unpaid_idx", condition=Q(paid_date__isnull=True)
            ),
            models.Index(fields=["-created_at", "-payment_id"], name="finance_payment_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="finance_payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} ({self.customer_id}, due {self.due_date})"

    def clean(self) -> None:
        if self.contract_id and self.customer_id and self.contract.customer_id != self.customer_id:
            raise ValidationError({"contract": "The contract belongs to another customer."})

    def status_on(self, today: date, grace_days: int) -> str:
        if self.paid_date is not None:
            return PaymentStatus.PAID
        if self.due_date + timedelta(days=grace_days) < today:
            return PaymentStatus.OVERDUE
        return PaymentStatus.OPEN

    def days_overdue(self, today: date, grace_days: int) -> int:
        if self.status_on(today, grace_days) != PaymentStatus.OVERDUE:
            return 0
        return (today - self.due_date).days


class PaymentStanding(models.Model):
    """The finance app's record of whether a customer is overdue: events are published only when it
    changes (by a payment write or by the beat job), so each change is announced once."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="finance_standing"
    )
    is_overdue = models.BooleanField(default=False)
    #: the due date of the oldest overdue payment, while overdue
    overdue_since = models.DateField(null=True, blank=True)
    #: the oldest overdue payment while overdue; the payment that settled it once current
    payment = models.ForeignKey(Payment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    #: the payment_overdue / payments_current event of the last change
    event_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["customer"], name="finance_standing_overdue_idx", condition=Q(is_overdue=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {'overdue' if self.is_overdue else 'current'}"


class ValueReport(models.Model):
    """The value a customer has realised so far, as reported (the latest report is the current figure)."""

    value_report_id = models.CharField(
        primary_key=True, max_length=64, default=new_value_report_id, editable=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="finance_value_reports")
    realized_value = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    reported_at = models.DateTimeField(default=timezone.now)
    #: free text from the customer's business review; may hold confidential figures, so stored encrypted
    note = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-value_report_id")
        indexes = [
            models.Index(fields=["customer", "-reported_at"], name="finance_value_customer_idx"),
            models.Index(fields=["-created_at", "-value_report_id"], name="finance_value_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(realized_value__gte=0), name="finance_value_report_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value_report_id} ({self.customer_id}, {self.reported_at:%Y-%m-%d})"


class Forecast(models.Model):
    """A revenue forecast as submitted, with the server's recomputation from its lines and the stored
    contracts at the time of submission, and where the submitted aggregates differ from it."""

    forecast_id = models.CharField(primary_key=True, max_length=64, default=new_forecast_id, editable=False)
    #: normalised: 2026-q2 or 2026-03
    forecast_period = models.CharField(max_length=10)
    period_start = models.DateField()
    period_end = models.DateField()
    #: aggregate_metrics as submitted
    submitted = models.JSONField(default=dict, blank=True)
    #: the server's aggregates (forecasting.Aggregates)
    computed = models.JSONField(default=dict)
    #: [{"field", "submitted", "computed", "difference", "tolerance"}]
    discrepancies = models.JSONField(default=list, blank=True)
    #: the OAuth client that submitted it (empty from the admin or the demo)
    submitted_by = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-forecast_id")
        indexes = [
            models.Index(fields=["forecast_period", "-created_at"], name="finance_forecast_period_idx")
        ]

    def __str__(self) -> str:
        return f"{self.forecast_id} ({self.forecast_period})"


class ForecastLine(models.Model):
    """One customer's line of a forecast, with the renewal value the server found for it."""

    forecast = models.ForeignKey(Forecast, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    # A plain id, not a foreign key: the forecast stays as it was submitted if the customer is deleted.
    customer_id = models.CharField(max_length=64, db_index=True)
    renewal_probability = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    expansion_probability = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(1)])
    expansion_value = models.DecimalField(**MONEY, default=Decimal("0"))
    risk_factors = models.JSONField(default=list, blank=True)
    #: contracted value of the customer's contracts ending in the period, when submitted
    renewal_value = models.DecimalField(**COMPUTED_MONEY)
    #: renewal value * renewal probability + expansion value * expansion probability
    risk_adjusted_value = models.DecimalField(**COMPUTED_MONEY)

    class Meta:
        ordering = ("forecast", "position")
        constraints = [
            models.UniqueConstraint(fields=["forecast", "customer_id"], name="finance_forecast_line_unique")
        ]

    def __str__(self) -> str:
        return f"{self.forecast_id} · {self.customer_id}"


class ModelBasis(models.TextChoices):
    FITTED = "fitted", "Fitted on the platform's renewal outcomes"
    PRIOR = "prior", "Documented prior (too few outcomes to fit)"


class RenewalModelFit(models.Model):
    """One fit of the renewal model (renewal_model.py): its coefficients and how well it predicts
    outcomes it was not fitted on. The latest is the one in use."""

    fitted_at = models.DateTimeField(default=timezone.now)
    basis = models.CharField(max_length=10, choices=ModelBasis.choices)
    #: intercept, health score / 100, trend, adoption, late payment share
    coefficients = models.JSONField()
    outcomes = models.PositiveIntegerField(help_text="Renewal outcomes known when fitted")
    renewed_outcomes = models.PositiveIntegerField(default=0)
    training_outcomes = models.PositiveIntegerField(default=0)
    holdout_outcomes = models.PositiveIntegerField(default=0)
    brier_score = models.FloatField(
        null=True, blank=True, help_text="Mean squared error of the probabilities on held-out outcomes"
    )
    baseline_brier_score = models.FloatField(
        null=True, blank=True, help_text="The same for always predicting the training renewal rate"
    )
    iterations = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("-fitted_at", "-id")
        get_latest_by = ("fitted_at", "id")

    def __str__(self) -> str:
        return f"{self.get_basis_display()} at {self.fitted_at:%Y-%m-%d %H:%M}"
