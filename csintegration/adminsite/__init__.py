"""The back-office site: Django's admin behind a TOTP second factor (django-otp) and login lockout."""
