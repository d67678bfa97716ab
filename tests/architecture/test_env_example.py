"""``.env.example`` lists every tunable an app declares in its ``conf.py`` (README: configuration comes
only from environment variables, each listed with its default)."""

import importlib
import re
from pathlib import Path

from django.apps import apps

from csintegration.conf import AppSettings

ROOT = Path(__file__).resolve().parents[2]


def test_every_app_tunable_is_in_env_example():
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    declared: dict[str, str] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.conf")
        except ModuleNotFoundError:
            continue
        for value in vars(module).values():
            if isinstance(value, AppSettings):
                declared.update(dict.fromkeys(value.declarations(), config.name))
    assert len(declared) > 20  # the apps' conf modules were found
    missing = sorted(f"{name} ({app})" for name, app in declared.items() if name not in listed)
    assert missing == []
