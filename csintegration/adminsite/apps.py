from django.apps import AppConfig


class AdminSiteConfig(AppConfig):
    """Holds the site's TOTP enrolment commands (``enroll_totp``, ``totp_code``)."""

    name = "csintegration.adminsite"
    label = "adminsite"
    verbose_name = "Admin sign-in"
