"""Fuzz the running platform as a client would: a live gunicorn server (the Procfile's config) on
127.0.0.1 and a free port, on the test database (PostgreSQL) and Redis, and the schemathesis CLI with
every check it has, through its coverage, fuzzing and stateful phases, with a real token from
``/o/token/`` and real RFC 9421 signatures for the signed operations (``live_fuzz_hooks.py``).

It must find nothing. Its time is bounded (``FUZZ_MAX_SECONDS``, default 150, plus start-up); its
seed is fixed (``FUZZ_SEED``, default 1). ``schemathesis.txt`` in the test's temporary directory keeps
the full report, ``gunicorn.log`` the server's log.
"""

import json
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.utils import timezone

from csintegration.api.models import WorkerHeartbeat
from csintegration.clients.services import client_create
from domains.customers.services import customer_create
from domains.marketing.models import Segment
from domains.operations.actions import action_params_errors, step_actions
from domains.operations.models import WorkflowTemplate

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MAX_SECONDS = int(os.environ.get("FUZZ_MAX_SECONDS", "150"))
# Fixed, so that CI is reproducible; another seed explores other inputs (FUZZ_SEED=7 …).
SEED = os.environ.get("FUZZ_SEED", "1")
GENEROUS_QUOTAS = {
    "standard": "1000000/hour",
    "realtime": "1000000/hour",
    "bulk": "1000000/day",
    "admin": "1000000/hour",
}

# A bulk request whose records break the record schema is accepted as a whole: each bad record is
# answered in the 207's results (CONTRACT.md §7), and the valid ones are kept.
BULK_CONFIG = """
[[operations]]
include-path-regex = "/bulk$"
checks.negative_data_rejection.expected-statuses = [
    400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429, 207,
]
"""

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _test_database_url() -> str:
    """DATABASE_URL, pointing at the database the tests run on (pytest-django's test_… database)."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


@pytest.fixture
def live_server_url(tmp_path):
    port = _free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        # Tasks the API enqueues stay in the server's memory; no worker runs here.
        "CELERY_BROKER_URL": "memory://",
        "JWT_ISSUER": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "csintegration.wsgi",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/api/v1/cs-integration/health", timeout=15).status_code in (200, 503):
                    break
            except requests.RequestException:  # not listening yet, or still loading the application
                pass
            assert server.poll() is None and time.monotonic() < deadline, (
                tmp_path / "gunicorn.log"
            ).read_text()
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _shipped_data() -> None:
    """What the domain apps' data migrations ship (the default scorecard, segments, workflow templates
    and rules, …), which the flush after an earlier transactional test removed: each one's forward
    function again, on the models as they stood then (each is idempotent). The platform's own data
    migrations move data between columns that no longer exist, and ship none."""
    loader = MigrationLoader(connection)
    for key, migration in sorted(loader.disk_migrations.items()):
        if not apps.get_app_config(key[0]).name.startswith("domains."):
            continue
        shipped = [operation for operation in migration.operations if isinstance(operation, RunPython)]
        if shipped:
            state_apps = loader.project_state(key, at_end=True).apps
            for operation in shipped:
                operation.code(state_apps, None)


def test_the_live_server_conforms_to_its_schema(live_server_url, tmp_path, settings):
    # The server checks secrets with the production hasher, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    # A worker has reported in, so /health is "ok" and a 5xx from it would be a real failure.
    WorkerHeartbeat.objects.create(hostname="fuzz-worker", seen_at=timezone.now() + timedelta(days=1))
    _shipped_data()
    # Customers that requests naming a customer in their body can name (live_fuzz_hooks.py).
    customers = [customer_create(customer_id=f"cust_fuzz{n}", data={"name": f"Fuzz {n}"}) for n in range(3)]
    active = WorkflowTemplate.objects.filter(is_active=True).prefetch_related("steps")
    workflow_types = sorted(active.values_list("workflow_type", flat=True))
    # The steps a request may name for each template: those whose parameters, the template's own for
    # that action or none, the server's check admits for its workflow type.
    workflow_steps = {}
    for template in active:
        given = {step.action: step.params for step in template.steps.all()}
        workflow_steps[template.workflow_type] = [
            action.name
            for action in step_actions(available_only=True)
            if not action_params_errors(
                action.name, given.get(action.name, {}), workflow_type=template.workflow_type
            )
        ]
    credentials = client_create(name="fuzzer", scopes=list(settings.API_SCOPES), rate_limits=GENEROUS_QUOTAS)
    token = requests.post(
        f"{live_server_url}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(credentials.client.client_id, credentials.client_secret),
        timeout=30,
    )
    assert token.status_code == 200, token.content
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.live_fuzz_hooks",
        "FUZZ_CLIENT_ID": credentials.client.client_id,
        "FUZZ_SIGNING_SECRET": credentials.signing_secret,
        "FUZZ_CUSTOMER_IDS": ",".join(customer.customer_id for customer in customers),
        "FUZZ_WORKFLOW_TYPES": ",".join(workflow_types),
        "FUZZ_WORKFLOW_STEPS": json.dumps(workflow_steps),
        "FUZZ_SEGMENTS": ",".join(Segment.objects.order_by("key").values_list("key", flat=True)),
        "PYTHONPATH": str(ROOT),
    }
    config = tmp_path / "schemathesis.toml"
    config.write_text(BULK_CONFIG)
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{live_server_url}/api/schema/",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-time",
        str(MAX_SECONDS),
        "--max-examples",
        "40",
        # One: Python 3.11's ast.parse is not thread-safe, and hypothesis parses lambdas' source as it
        # draws, which fails now and then with "AST constructor recursion depth mismatch" under two.
        "--workers",
        "1",
        "--seed",
        SEED,
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--header",
        f"Authorization: Bearer {token.json()['access_token']}",
        "--report-dir",
        str(tmp_path / "report"),
        "--no-color",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=MAX_SECONDS + 120
    )
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    assert result.returncode == 0, f"{tmp_path / 'schemathesis.txt'}\n{output[-25000:]}"
