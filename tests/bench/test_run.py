"""``make bench``'s script stays runnable: its options parse and its report renders (no benchmark runs)."""

import subprocess
import sys
from pathlib import Path

import pytest

from bench import run

ROOT = Path(__file__).resolve().parents[2]


def test_help_runs_without_services():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "BENCH_DATABASE_URL" in result.stdout


def test_options_pick_sections_in_order_and_refuse_unknown_ones():
    args = run.parse_args(["--quick", "--only", "scale,http"])
    assert args.sections == ["http", "scale"]
    assert args.scale_sizes == (10_000, 100_000)
    assert run.parse_args([]).scale_sizes == (10_000, 1_000_000)
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "everything"])


def test_table_rounds_and_escapes_cells():
    table = run.format_table(("figure", "value"), [("a|b", 1234.5), ("ratio", 0.4123), ("none", None)])
    assert table.splitlines() == [
        "| figure | value |",
        "| --- | --- |",
        "| a\\|b | 1,234 |",
        "| ratio | 0.41 |",
        "| none | — |",
    ]
    with pytest.raises(ValueError):
        run.format_table(("one",), [(1, 2)])


def test_results_carry_the_machine_the_load_and_each_table():
    section = run.Section(
        "Request path",
        headers=("request", "req/s"),
        rows=[("GET customers/{id}", 812.0)],
        notes=["a note"],
        load_before=(1.0, 0.5, 0.25),
        load_after=(2.0, 1.0, 0.5),
    )
    text = run.render_results({"cores": 2, "date": "2026-01-01"}, [section])
    assert "| cores | 2 |" in text
    assert "## Request path" in text
    assert "| GET customers/{id} | 812 |" in text
    assert "1.00 / 0.50 / 0.25 → 2.00 / 1.00 / 0.50" in text
    assert text.endswith("a note\n")


def test_wrk_output_is_parsed_with_its_units():
    output = """Running 5s test @ http://127.0.0.1:1/
  Latency Distribution
     50%   12.50ms
     75%   20.00ms
     90%   30.00ms
     99%    1.20s
  4000 requests in 5.00s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    800.50
"""
    assert run.parse_wrk(output) == {"rps": 800.5, "p50": 12.5, "p99": 1200.0, "errors": 3.0}
