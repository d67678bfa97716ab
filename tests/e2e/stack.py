"""The platform as it runs in production, for the fault tests: gunicorn, the webhooks and general Celery
workers and beat, as processes of the ``Procfile``'s shape, on the test database (PostgreSQL) and on a
Redis server of the test's own (another port), so that a test may stop and restart that Redis, kill a
worker, or terminate the database's backends. Everything listens on 127.0.0.1.

A local receiver records every delivery by ``webhook-id``; ``Burst`` sends health changes through the
API at a steady rate and keeps each answer, so that a test counts what was accepted, what arrived
(unique ``webhook-id``), what arrived twice and what was lost.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GENEROUS_QUOTAS = {
    "standard": "1000000/hour",
    "realtime": "1000000/hour",
    "bulk": "1000000/day",
    "admin": "1000000/hour",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


class OwnRedis:
    """A Redis server of the test's own, on a free port, that keeps nothing on disk (like the
    platform's), so a restart loses every queued message."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # as a crash would: nothing is saved
            self.process.wait(10)
        self.process = None


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 200 (after ``delay`` seconds) and records each
    ``webhook-id``; it can be taken down (connections refused) and brought back on the same port."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.port = free_port()
        self.received: list[str] = []
        self.first_seen: dict[str, float] = {}  # webhook-id → wall-clock time of its first arrival
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    webhook_id = self.headers.get("webhook-id", "")
                    receiver.received.append(webhook_id)
                    receiver.first_seen.setdefault(webhook_id, time.time())
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def counts(self) -> Counter:
        with self._lock:
            return Counter(self.received)

    def arrivals(self) -> dict[str, float]:
        with self._lock:
            return dict(self.first_seen)


def test_database_url() -> str:
    """DATABASE_URL pointing at the database the tests run on (pytest-django's test_… database)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


@dataclass
class Stack:
    """The platform's processes against ``redis`` and the test database."""

    redis: OwnRedis
    directory: Path
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": self.redis.url,
            "CELERY_BROKER_URL": self.redis.url,
            "JWT_ISSUER": self.url,
            # The test run's own VAR_DIR: the same development keys (encryption, JWT) as the test process.
            "PROMETHEUS_MULTIPROC_DIR": str(self.directory / "metrics"),
            "LOG_LEVEL": "WARNING",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            # Recovery on a test's time scale: quick retries, and a lost queued message taken over
            # after 5 s instead of 20 s.
            "WEBHOOK_RETRY_SCHEDULE": "1,1,2,2,3,5,5,10,10,10",
            "WEBHOOK_RETRY_JITTER": "0",
            "WEBHOOK_TIMEOUT_SECONDS": "3",
            "WEBHOOK_ATTEMPT_LEASE_MARGIN_SECONDS": "2",
            "WEBHOOK_QUEUE_LEASE_SECONDS": "5",
            "WEBHOOK_DISPATCH_INTERVAL_SECONDS": "1",
            "EVENTS_SWEEP_GRACE_SECONDS": "3",
            "EVENTS_SWEEP_LEASE_SECONDS": "3",
        }

    def _start(self, name: str, command: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
        )

    def start_web(self) -> None:
        self._start(
            "web",
            [
                str(BIN / "gunicorn"), "csintegration.wsgi", "--config", "gunicorn.conf.py",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
            ],
        )  # fmt: skip

    def start_webhooks_worker(self) -> None:
        self._start(
            "webhooks",
            [
                str(BIN / "celery"), "-A", "csintegration", "worker", "--hostname", "webhooks@faults",
                "--queues", "webhooks", "--pool", "threads", "--concurrency", "8",
                "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
            ],
        )  # fmt: skip

    def start_general_worker(self) -> None:
        self._start(
            "worker",
            [
                str(BIN / "celery"), "-A", "csintegration", "worker", "--hostname", "general@faults",
                "--queues", "critical,default,bulk", "--pool", "threads", "--concurrency", "4",
                "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
            ],
        )  # fmt: skip

    def start_beat(self) -> None:
        self._start(
            "beat",
            [
                str(BIN / "celery"), "-A", "csintegration", "beat", "--loglevel", "WARNING",
                "--schedule", str(self.directory / "beat-schedule"),
            ],
        )  # fmt: skip

    def start(self) -> None:
        (self.directory / "metrics").mkdir(exist_ok=True)
        self.start_web()
        self.start_webhooks_worker()
        self.start_general_worker()
        self.start_beat()
        wait_for(self._web_answers, timeout=120, what="gunicorn start")

    def _web_answers(self) -> bool:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"
        try:
            return requests.get(f"{self.url}/api/v1/cs-integration/health", timeout=10).status_code in (
                200,
                503,
            )
        except requests.RequestException:
            return False

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text()[-5000:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def token(self, credentials) -> str:
        response = requests.post(
            f"{self.url}/o/token/",
            data={"grant_type": "client_credentials"},
            auth=(credentials.client.client_id, credentials.client_secret),
            timeout=30,
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]


@dataclass
class Burst:
    """Health changes sent through the API at a steady rate, from a few threads, each answer kept."""

    stack: Stack
    token: str
    customer_ids: list[str]
    statuses: list[int] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    accepted_at: dict[str, float] = field(default_factory=dict)  # event id → when its 202 came back
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _send(self, number: int) -> None:
        customer_id = self.customer_ids[number % len(self.customer_ids)]
        body = {
            "customer_id": customer_id,
            "previous_score": 70,
            "new_score": 40 + number % 50,
            "change_reason": "fault_test",
        }
        try:
            response = requests.post(
                f"{self.stack.url}/api/v1/cs-integration/events/health-change",
                data=json.dumps(body),
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
                timeout=30,
            )
        except requests.RequestException as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.statuses.append(response.status_code)
            if response.status_code == 202:
                event_id = response.json()["event_id"]
                self.accepted.append(event_id)
                self.accepted_at[event_id] = time.time()
            elif response.status_code >= 500:
                self.errors.append(f"{response.status_code}: {response.text[:300]}")

    def run(self, *, rate: float, seconds: float, during=None) -> None:
        """Send for ``seconds``; ``during(elapsed)`` is called about every 0.1 s meanwhile."""
        interval, started = 1 / rate, time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            number = 0
            while (elapsed := time.monotonic() - started) < seconds:
                if elapsed >= number * interval:
                    pool.submit(self._send, number)
                    number += 1
                if during is not None:
                    during(elapsed)
                time.sleep(min(0.05, interval))
