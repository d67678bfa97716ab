from django.apps import AppConfig


class AdminSiteConfig(AppConfig):
    """Holds the site's TOTP enrolment commands (``enroll_totp``, ``totp_code``), its templates and
    static files, and places the admin pages of the libraries the platform uses in the sidebar."""

    name = "csintegration.adminsite"
    label = "adminsite"
    verbose_name = "Admin sign-in"

    def ready(self) -> None:
        from .navigation import register_navigation_item

        for group, model, title, icon, order in (
            ("security", "otp_totp.totpdevice", "Admin devices", "phonelink_lock", 20),
            ("security", "otp_static.staticdevice", "Backup codes", "password", 25),
            ("security", "axes.accessattempt", "Lockouts", "lock", 30),
            ("security", "axes.accesslog", "Sign-ins", "login", 35),
            ("security", "auth.user", "Staff users", "person", 50),
            ("security", "auth.group", "Staff groups", "group", 55),
            ("schedules", "django_celery_beat.periodictask", "Periodic jobs", "schedule", 10),
            ("schedules", "django_celery_beat.crontabschedule", "Crontabs", "calendar_month", 20),
            ("schedules", "django_celery_beat.intervalschedule", "Intervals", "timer", 30),
            ("schedules", "django_celery_beat.clockedschedule", "One-off times", "alarm", 40),
        ):
            register_navigation_item(group, model, title=title, icon=icon, order=order)
