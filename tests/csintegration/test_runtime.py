"""Web and worker processes tune Python's garbage collector once the application is loaded
(csintegration/runtime.py): GC_THRESHOLDS, and the application's objects frozen out of collections."""

import gc

import pytest

from csintegration.runtime import tune_garbage_collector


@pytest.fixture(autouse=True)
def _restore_the_collector():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_thresholds_apply_and_what_is_loaded_is_frozen(settings):
    settings.GC_THRESHOLDS = (12345, 11, 12)
    gc.unfreeze()
    tune_garbage_collector()
    assert gc.get_threshold() == (12345, 11, 12)
    assert gc.get_freeze_count() > 10_000  # Django, DRF and the project's modules and classes


def test_empty_thresholds_leave_the_collector_alone(settings):
    settings.GC_THRESHOLDS = ()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_garbage_collector()
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0


def test_a_worker_process_tunes_it_when_it_starts(settings):
    from celery.signals import worker_init, worker_process_init

    from csintegration.celery import _tune_the_garbage_collector

    for signal in (worker_init, worker_process_init):  # receivers are held by weak reference
        assert _tune_the_garbage_collector in [reference() for _, reference in signal.receivers]
    settings.GC_THRESHOLDS = (23456, 10, 10)
    gc.unfreeze()
    _tune_the_garbage_collector()
    assert gc.get_threshold() == (23456, 10, 10) and gc.get_freeze_count() > 0
