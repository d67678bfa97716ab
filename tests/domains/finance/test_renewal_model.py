"""Renewal outcomes as the contracts define them, the features the model learns from, the prior below 200
outcomes and a fitted model with its Brier score on held-out outcomes above; the nightly refit runs in a
real worker."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from csintegration.api.bulk import BulkItem
from domains.customers import services as customer_services
from domains.customers.models import Customer, HealthSnapshot
from domains.finance import renewal_model, selectors, services
from domains.finance.conf import conf
from domains.finance.models import Contract, ModelBasis, Payment, RenewalModelFit
from tests.celery_support import wait_until

from .conftest import BASE, days

pytestmark = pytest.mark.django_db


def outcomes() -> dict[str, bool]:
    return dict(selectors.renewal_outcomes().values_list("contract_id", "renewed"))


def test_renewal_outcomes_follow_the_contracts(make_customer, make_contract):
    renewed = make_contract(make_customer("cust_renews"), 100, days(-465), days(-100))
    make_contract(renewed.customer, 100, days(-99), days(265))
    churned = make_contract(make_customer("cust_churns"), 100, days(-465), days(-100))
    pending = make_contract(make_customer("cust_pending"), 100, days(-375), days(-10))  # within the grace
    early = make_contract(make_customer("cust_early"), 100, days(-465), days(-100))
    make_contract(early.customer, 100, days(-160), days(300))  # renewed early, overlapping
    longer = make_contract(make_customer("cust_addon"), 100, days(-200), days(-100))
    make_contract(longer.customer, 100, days(-400), days(200))  # a longer contract carried on
    late = make_contract(make_customer("cust_returns"), 100, days(-465), days(-100))
    make_contract(late.customer, 100, days(-100 + 31), days(300))  # back after more than the grace

    known = outcomes()
    assert known[renewed.pk] is True and known[early.pk] is True and known[longer.pk] is True
    assert known[churned.pk] is False and known[late.pk] is False
    assert pending.pk not in known
    assert selectors.renewal_outcome_count() == 5  # the successors are still in force


def test_training_rows_take_the_health_the_customer_had_then(make_customer, make_contract):
    customer = make_customer("cust_history", health_score=85, adoption_rate=0.9)
    contract = make_contract(customer, 100, days(-465), days(-100))
    # The customer's first score is moved back before the contract ended; today it is much lower.
    HealthSnapshot.objects.filter(customer=customer).update(
        observed_at=customer.created_at - timedelta(days=200)
    )
    customer_services.customer_update(customer=customer, data={"health_score": 20})
    for offset, paid in ((-150, -140), (-130, None), (-110, -112)):
        Payment.objects.create(
            customer=customer, amount=10, due_date=days(offset), paid_date=paid and days(paid)
        )
    other = make_customer("cust_no_history", health_score=40, adoption_rate=0.3)
    make_contract(other, 100, days(-465), days(-100))

    rows = {row.customer_id: row for row in selectors.renewal_training_rows()}
    then = rows["cust_history"]
    assert then.contract_id == contract.pk and then.renewed is False
    assert then.features.health_score == 85 and then.features.adoption_rate == 0.9
    assert then.features.late_payment_share == pytest.approx(2 / 3)  # one paid ten days late, one never
    # Without a score that old, the customer's record describes it.
    assert rows["cust_no_history"].features.health_score == 40
    assert rows["cust_no_history"].features.late_payment_share == 0.0


def test_the_grouped_late_share_matches_the_pure_definition(settings, make_customer):
    rng = random.Random(11)
    customers = [make_customer(f"cust_late{index}") for index in range(12)]
    for customer in customers:
        for _ in range(rng.randint(0, 8)):
            due = days(rng.randint(-420, 5))
            paid = None if rng.random() < 0.3 else min(days(0), due + timedelta(days=rng.randint(-5, 20)))
            Payment.objects.create(customer=customer, amount=1, due_date=due, paid_date=paid)
    ids = [customer.pk for customer in customers]
    for grace in (0, 3):
        settings.FINANCE_OVERDUE_GRACE_DAYS = grace
        grouped = selectors.late_payment_shares(customers=ids)
        assert grouped, "some customers paid late"
        for customer in customers:
            pure = renewal_model.late_payment_share(
                list(Payment.objects.filter(customer=customer).values_list("due_date", "paid_date")),
                as_of=days(0),
                history_days=conf.FINANCE_PAYMENT_HISTORY_DAYS,
                grace_days=grace,
            )
            assert grouped.get(customer.pk, 0.0) == pytest.approx(pure)


def _outcome_population(count: int, seed: int = 3) -> None:
    """``count`` customers whose contract ended 100 days ago, renewed (or not) with a probability that
    rises with their health: a real signal for the model to find."""
    rng = random.Random(seed)
    items = []
    for index in range(count):
        health = rng.randint(0, 100)
        items.append(
            BulkItem(
                index,
                {
                    "customer_id": f"cust_pop{index:04d}",
                    "name": f"Population {index}",
                    "health_score": health,
                    "adoption_rate": round(rng.random(), 2),
                },
                {},
            )
        )
    customer_services.customer_bulk_upsert(items=items)
    contracts = []
    for index, customer in enumerate(Customer.objects.filter(pk__startswith="cust_pop").order_by("pk")):
        ended = Contract(
            customer=customer, contracted_value=Decimal(1000), start_date=days(-465), end_date=days(-100)
        )
        contracts.append(ended)
        if rng.random() < renewal_model.logistic(-3 + 7 * customer.health_score / 100):
            contracts.append(
                Contract(
                    customer=customer,
                    contracted_value=Decimal(1000),
                    start_date=days(-99),
                    end_date=days(265),
                )
            )
        assert index < count
    for contract in contracts:
        contract.arr = contract.contracted_value
    Contract.objects.bulk_create(contracts)


def test_below_the_minimum_the_prior_is_used_and_scored(finance_api, make_customer):
    _outcome_population(150)
    fit = services.renewal_model_refit()
    assert fit.basis == ModelBasis.PRIOR and fit.outcomes == 150
    assert fit.coefficients == list(services.renewal_prior())
    assert fit.training_outcomes == 0 and fit.holdout_outcomes == 150
    rows = selectors.renewal_training_rows()
    expected = renewal_model.brier_score(
        [renewal_model.predict(fit.coefficients, row.features) for row in rows],
        [int(row.renewed) for row in rows],
    )
    assert fit.brier_score == pytest.approx(expected, abs=1e-6)

    customer = make_customer("cust_scored", health_score=70, adoption_rate=0.5)
    body = finance_api.get(f"{BASE}/value/{customer.pk}").json()["financial_health"]
    assert body["renewal_model"]["basis"] == "prior" and body["renewal_model"]["outcomes"] == 150
    features = renewal_model.RenewalFeatures(70, customer.health_trend, 0.5, 0.0)
    assert body["renewal_probability"] == round(renewal_model.predict(services.renewal_prior(), features), 4)


def test_with_enough_outcomes_the_model_is_fitted_and_beats_the_base_rate(finance_api):
    _outcome_population(260)
    fit = services.renewal_model_refit()
    assert fit.basis == ModelBasis.FITTED and fit.outcomes == 260
    assert fit.training_outcomes + fit.holdout_outcomes == 260 and 30 < fit.holdout_outcomes < 80
    assert fit.brier_score is not None and fit.baseline_brier_score is not None
    assert fit.brier_score < fit.baseline_brier_score  # health carries the signal, and the fit found it
    assert fit.coefficients[1] > 2  # health's coefficient, generated as 7
    # The Brier score is the one of the held-out rows.
    rows = [row for row in selectors.renewal_training_rows() if renewal_model.is_holdout(row.contract_id, 20)]
    assert len(rows) == fit.holdout_outcomes
    expected = renewal_model.brier_score(
        [renewal_model.predict(fit.coefficients, row.features) for row in rows],
        [int(row.renewed) for row in rows],
    )
    assert fit.brier_score == pytest.approx(expected, abs=1e-5)

    high = finance_api.get(f"{BASE}/value/cust_pop0001").json()["financial_health"]
    assert high["renewal_model"]["basis"] == "fitted"
    assert high["renewal_model"]["brier_score"] == fit.brier_score
    assert RenewalModelFit.objects.count() == 1  # the stored fit was used, not refitted


def test_one_kind_of_outcome_is_not_enough_to_fit(settings):
    settings.FINANCE_RENEWAL_MIN_OUTCOMES = 5
    _outcome_population(30)
    Contract.objects.filter(start_date=days(-99)).delete()  # nobody renewed
    assert services.renewal_model_refit().basis == ModelBasis.PRIOR


def test_a_malformed_prior_is_refused(settings):
    settings.FINANCE_RENEWAL_PRIOR = [1.0, 2.0]
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        services.renewal_model_refit()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_nightly_refit_runs_in_a_real_worker(celery_worker):
    from csintegration.tasks import enqueue

    _outcome_population(220)
    assert enqueue("finance.recompute_renewal_model")
    fit = wait_until(lambda: RenewalModelFit.objects.first(), timeout=60)
    assert fit.basis == ModelBasis.FITTED and fit.outcomes == 220
