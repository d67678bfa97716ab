"""The CS integration hub: project settings and cross-cutting platform machinery."""

from .celery import app as celery_app

__all__ = ("celery_app",)
