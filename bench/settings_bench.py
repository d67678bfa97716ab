"""Settings of the benchmarks that compare the platform with baselines served by the same server.

Only the scripts of ``bench/`` serve with this module; production never imports it.
"""

from csintegration.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
