"""``django.contrib.admin``'s app config, with the second-factor site as ``admin.site``."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    """Replaces ``django.contrib.admin`` in INSTALLED_APPS so that ``admin.site`` (and every
    ``@admin.register``) is the second-factor site."""

    default_site = "csintegration.adminsite.sites.PlatformAdminSite"
