"""The processes of ``make run``: the broker's files stay under var/, housekeeping logs quietly, and
gunicorn's own refusals are problem documents."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from csintegration import procfile
from csintegration.logging_filters import QuietHousekeepingFilter

ROOT = Path(__file__).resolve().parents[2]


def test_the_filesystem_broker_keeps_its_control_files_under_var(tmp_path):
    """On the embedded defaults (in a process of its own, whatever this run's broker is)."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL"}
    }
    environment.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="csintegration.settings")
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    broker_url, options = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(options["control_folder"]).is_relative_to(tmp_path)
    # kombu warns "No hostname was supplied" for a URL without one.
    assert broker_url.startswith("filesystem://localhost")


def _record(logger: str, message: str, args) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.INFO, __file__, 1, message, args, None)


def test_frequent_housekeeping_logs_at_debug_and_the_rest_at_info():
    quiet = QuietHousekeepingFilter()
    sweep = _record(
        "celery.beat", "Scheduler: Sending due task %s (%s)", ("sweep", "events.sweep_undispatched")
    )
    assert not quiet.filter(sweep) and sweep.levelname == "DEBUG"
    received = _record(
        "celery.worker.strategy",
        "Task %(name)s[%(id)s] received",
        {"name": "api.worker_heartbeat", "id": "1"},
    )
    assert not quiet.filter(received)
    nightly = _record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] succeeded",
        {"name": "customers.recompute_all_health", "id": "2"},
    )
    assert quiet.filter(nightly) and nightly.levelname == "INFO"
    delivery = _record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] succeeded",
        {"name": "webhooks.attempt_deliveries", "id": "3"},
    )
    assert quiet.filter(delivery)


def test_a_requested_stop_of_the_processes_is_not_an_error(monkeypatch):
    def interrupted(argv):
        raise SystemExit(130)

    monkeypatch.setattr(procfile.command, "main", interrupted)
    assert procfile.main(["-f", "Procfile"]) == 0

    def crashed(argv):
        raise SystemExit(1)

    monkeypatch.setattr(procfile.command, "main", crashed)
    assert procfile.main(["-f", "Procfile"]) == 1


def test_procfile_runs_gunicorn_with_its_config_and_every_process_execs():
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert all(": exec " in line for line in lines)
    assert "--config gunicorn.conf.py" in next(line for line in lines if line.startswith("web:"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _raw_request(port: int, request: bytes) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


@pytest.fixture
def gunicorn_port(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "csintegration.wsgi",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_gunicorn_answers_its_own_refusals_with_problem_json(gunicorn_port):
    long_line = (
        b"GET /api/v1/cs-integration/customers?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    head, body = _raw_request(gunicorn_port, long_line)
    assert head.startswith(b"HTTP/1.1 414")
    assert b"Content-Type: application/problem+json" in head
    problem = json.loads(body)
    assert problem["status"] == 414 and problem["type"].endswith("uri-too-long") and problem["request_id"]

    head, body = _raw_request(gunicorn_port, b"NOT A REQUEST\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and json.loads(body)["status"] == 400


SLOW_TO_STOP = """
import pathlib, signal, subprocess, sys, time
marker = pathlib.Path(sys.argv[1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
def stop(*_):
    time.sleep(6)  # longer than honcho's own 5 s before SIGKILL; a worker finishing its task
    child.terminate()
    child.wait()
    marker.write_text("stopped by its own handler")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
marker.with_suffix(".ready").write_text("ready")
time.sleep(120)
"""


def test_ctrl_c_lets_each_process_stop_itself_and_is_not_an_error(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_TO_STOP)
    marker = tmp_path / "stopped"
    # honcho's clock to SIGKILL starts when the first process has stopped: here the quick one.
    (tmp_path / "Procfile").write_text(
        f"quick: exec {sys.executable} -c 'import time; time.sleep(120)'\n"
        f"slow: exec {sys.executable} {script} {marker}\n"
    )
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "csintegration.procfile",
            "-f",
            str(tmp_path / "Procfile"),
            "-d",
            str(tmp_path),
        ],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if key != "PROCFILE_STOP_SECONDS"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.with_suffix(".ready").exists():
            assert time.monotonic() < deadline and launcher.poll() is None, launcher.stdout.read()
            time.sleep(0.1)
        launcher.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process group's leader
        output = launcher.communicate(timeout=60)[0].decode()
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 0, output
    assert marker.read_text() == "stopped by its own handler", output
    assert "SIGKILL" not in output
