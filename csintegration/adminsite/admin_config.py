"""``django.contrib.admin``'s app config, with the second-factor site as ``admin.site``."""

from django.contrib.admin.apps import AdminConfig


class PlatformAdminConfig(AdminConfig):
    """Replaces ``django.contrib.admin`` in INSTALLED_APPS so that ``admin.site`` (and every
    ``@admin.register``) is the second-factor site."""

    default_site = "csintegration.adminsite.sites.PlatformAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin.py
        from .theming import theme_registered_admins

        theme_registered_admins()
