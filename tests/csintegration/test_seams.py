"""The machinery the apps share: per-app tunables, periodic jobs declared by the apps, demo seeders and
``seed_demo``, and enqueueing by task name after commit."""

import io
import json
import logging

import pytest
from django.core.management import call_command
from django.db import transaction

from csintegration.celery import app as celery_app
from csintegration.conf import AppSettings, Setting
from csintegration.seeding import demo_seeders
from csintegration.tasks import enqueue, enqueue_after_commit
from tests.celery_support import broker_unreachable, conf_set


def test_a_tunable_reads_settings_then_the_environment_then_its_default(settings, monkeypatch):
    conf = AppSettings(
        TEST_WINDOW_DAYS=Setting(int, 30, "a window"),
        TEST_SCHEDULE=Setting("floats", [1, 2], "a schedule"),
    )
    assert conf.TEST_WINDOW_DAYS == 30 and conf.TEST_SCHEDULE == [1, 2]
    monkeypatch.setenv("TEST_SCHEDULE", "5,7.5")
    fresh = AppSettings(TEST_SCHEDULE=Setting("floats", [1, 2]))
    assert fresh.TEST_SCHEDULE == [5.0, 7.5]
    settings.TEST_WINDOW_DAYS = 7  # as a test (or the project's settings) overrides it
    assert conf.TEST_WINDOW_DAYS == 7
    with pytest.raises(AttributeError, match="declare it"):
        conf.UNDECLARED  # noqa: B018


def test_each_app_adds_its_periodic_jobs_to_beat():
    schedule = celery_app.conf.beat_schedule
    assert schedule["customers-recompute-all-health"]["task"] == "customers.recompute_all_health"
    assert schedule["webhooks-dispatch-due-deliveries"]["task"] == "webhooks.dispatch_due_deliveries"
    assert schedule["events-sweep-undispatched"]["task"] == "events.sweep_undispatched"


@pytest.mark.django_db
def test_seed_demo_runs_every_app_seeder_and_is_idempotent():
    assert next(seeder.name for seeder in demo_seeders()) == "customers"
    output = io.StringIO()
    call_command("seed_demo", "--customers", "12", stdout=output)
    assert "customers: 12 customers added (12 in all)" in output.getvalue()
    again = io.StringIO()
    call_command("seed_demo", "--customers", "12", "--json", stdout=again)
    credentials = json.loads(again.getvalue())
    assert credentials["client_id"] == "demo-integration-client"
    from domains.customers.models import Customer, HealthSnapshot

    assert Customer.objects.count() == 12
    assert HealthSnapshot.objects.filter(customer__customer_id__startswith="cust_demo").count() >= 12


@pytest.mark.django_db(transaction=True)
def test_enqueue_after_commit_sends_nothing_for_a_rolled_back_transaction():
    ran = []

    def record(value):
        ran.append(value)

    celery_app.task(name="test.record")(record)
    conf_set(celery_app, task_always_eager=True)
    try:
        with transaction.atomic():
            enqueue_after_commit("test.record", args=("kept",))
        try:
            with transaction.atomic():
                enqueue_after_commit("test.record", args=("rolled back",))
                raise RuntimeError
        except RuntimeError:
            pass
    finally:
        conf_set(celery_app, task_always_eager=False)
        celery_app.tasks.unregister("test.record")
    assert ran == ["kept"]


def test_enqueue_never_raises_when_the_broker_is_down(caplog):
    with broker_unreachable(), caplog.at_level(logging.WARNING):
        assert enqueue("events.sweep_undispatched", failure_message="the sweeper recovers it") is False
    assert "the sweeper recovers it" in caplog.text
