"""Settings of the security-stack benchmark: the platform's own, plus one unguarded copy of a view.

Only ``bench/security_stack.py`` serves with this module; production never imports it.
"""

from csintegration.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
