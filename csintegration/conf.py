"""Per-app tunables: each app declares its own in ``conf.py``, read from the environment with defaults.

    # domains/customers/conf.py
    from csintegration.conf import AppSettings, Setting

    conf = AppSettings(
        HEALTH_TREND_WINDOW_DAYS=Setting(int, 30, "days of scores the trend line is fitted through"),
    )

``conf.NAME`` is ``settings.NAME`` when the project's settings define it (tests override values there
with pytest-django's ``settings`` fixture), else the environment variable ``NAME``, else the default.
``.env.example`` lists every variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import environ
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_env = environ.Env()
_MISSING = object()


@dataclass(frozen=True)
class Setting:
    #: int, float, bool, str, list (of str) or "floats" (a comma-separated list of numbers)
    cast: Any
    default: Any
    help: str = ""

    def read(self, name: str) -> Any:
        try:
            if self.cast is bool:
                return _env.bool(name, default=self.default)
            if self.cast is int:
                return _env.int(name, default=self.default)
            if self.cast is float:
                return _env.float(name, default=self.default)
            if self.cast is list:
                return _env.list(name, default=self.default)
            if self.cast == "floats":
                return [float(item) for item in _env.list(name, default=self.default)]
            return _env.str(name, default=self.default)
        except ValueError as exc:
            raise ImproperlyConfigured(f"The environment variable {name} is not valid: {exc}") from exc


class AppSettings:
    """The tunables of one app (see the module's docstring)."""

    def __init__(self, **declarations: Setting) -> None:
        self._declarations = declarations
        self._from_environment: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        declarations = self.__dict__.get("_declarations", {})
        if name not in declarations:
            raise AttributeError(f"No tunable {name}; declare it in the app's conf.py.")
        overridden = getattr(settings, name, _MISSING)
        if overridden is not _MISSING:
            return overridden
        cache = self.__dict__["_from_environment"]
        if name not in cache:
            cache[name] = declarations[name].read(name)
        return cache[name]

    def declarations(self) -> dict[str, Setting]:
        return dict(self._declarations)
