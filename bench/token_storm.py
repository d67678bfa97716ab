"""What a storm of wrong client secrets at ``/o/token/`` does to the API's latency.

Each wrong secret costs a 1,000,000-iteration PBKDF2 check (about 0.25 s of CPU). One gunicorn server
(gthread, 2 workers x 8 threads, as the Procfile runs it) on PostgreSQL and Redis; one thread measures
``GET /api/v1/cs-integration/customers/{id}`` one request at a time with a valid token, first alone,
then while ``--attackers`` threads (16) send wrong secrets as fast as they are answered, each a new
random secret (so no memory of failed secrets helps). Three set-ups, each on a fresh server:

- ``unguarded``: no throttle, no bound on concurrent hashing (what the platform did before);
- ``distributed``: the failure throttles off (as for an attacker with many addresses and client ids),
  hashing bounded to ``OAUTH_SECRET_CHECKS_AT_ONCE`` per process;
- ``defaults``: the shipped settings (one attacking address: throttled after 30 failures a minute).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_tokenstorm REDIS_URL=redis://127.0.0.1:6379/3 \\
        VAR_DIR=/tmp/bench-var .venv/bin/python bench/token_storm.py [--seconds 15] [--attackers 16]
"""

import argparse
import base64
import http.client
import os
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import security_stack  # noqa: E402  (its database, server and fixture helpers)

SCENARIOS = {
    "unguarded": {
        "OAUTH_FAILED_AUTH_PER_CLIENT": "100000000/minute",
        "OAUTH_FAILED_AUTH_PER_ADDRESS": "100000000/minute",
        "OAUTH_SECRET_CHECKS_AT_ONCE": "1000",
    },
    "distributed": {
        "OAUTH_FAILED_AUTH_PER_CLIENT": "100000000/minute",
        "OAUTH_FAILED_AUTH_PER_ADDRESS": "100000000/minute",
    },
    "defaults": {},
}


def _attack(
    port: int, client_id: str, stop: threading.Event, statuses: Counter, lock: threading.Lock
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        basic = base64.b64encode(f"{client_id}:{secrets.token_urlsafe(24)}".encode()).decode()
        try:
            connection.request(
                "POST",
                "/o/token/",
                body="grant_type=client_credentials",
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _latencies(port: int, token: str, seconds: float) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", security_stack.GUARDED, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the API answered {response.status}")
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run_scenario(name: str, credentials, seconds: float, attackers: int) -> dict:
    previous = {key: os.environ.get(key) for key in SCENARIOS[name]}
    os.environ.update(SCENARIOS[name])
    port = security_stack.free_port()
    server = security_stack.start_server(port, workers=2, threads=8)
    try:
        token = security_stack.fetch_token(port, credentials)
        _latencies(port, token, 2)  # warm-up
        alone = _latencies(port, token, seconds)
        stop, statuses, lock = threading.Event(), Counter(), threading.Lock()
        threads = [
            threading.Thread(target=_attack, args=(port, credentials.client.client_id, stop, statuses, lock))
            for _ in range(attackers)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1)
        under_storm = _latencies(port, token, seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        return {
            "alone_median_ms": statistics.median(alone),
            "storm_median_ms": statistics.median(under_storm),
            "storm_p95_ms": statistics.quantiles(under_storm, n=20)[18],
            "token_answers": dict(statuses),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--attackers", type=int, default=16)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (created when missing) and REDIS_URL.")
    security_stack.ensure_database(url)
    security_stack.setup_django()
    credentials = security_stack.create_fixtures()  # hashed with the production hasher (PBKDF2)
    try:
        for name in args.scenarios.split(","):
            result = run_scenario(name, credentials, args.seconds, args.attackers)
            print(
                f"{name:12} API median alone {result['alone_median_ms']:.1f} ms, under the storm "
                f"{result['storm_median_ms']:.1f} ms (p95 {result['storm_p95_ms']:.1f} ms); "
                f"/o/token/ answered {result['token_answers']}",
                flush=True,
            )
    finally:
        security_stack.cleanup()


if __name__ == "__main__":
    main()
