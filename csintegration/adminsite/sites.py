"""The admin site: staff password plus a verified OTP device, or no access at all, in the unfold theme."""

from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.sites import UnfoldAdminSite
from unfold.widgets import BASE_INPUT_CLASSES


class PlatformLoginForm(OTPAdminAuthenticationForm):
    """Username, password and code in one step: without an explicit device choice, a numeric code goes
    to the user's authenticator (TOTP) device and any other code to their backup (static) tokens."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        for name in ("username", "password", "otp_token"):
            self.fields[name].widget.attrs["class"] = " ".join(BASE_INPUT_CLASSES)
        self.fields["username"].widget.attrs["autofocus"] = ""
        self.fields["otp_token"].label = "Authenticator code"
        self.fields["otp_token"].widget.attrs.update(
            {"autocomplete": "one-time-code", "inputmode": "numeric", "placeholder": "6 digits"}
        )

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is not None:
            return device
        token = (self.cleaned_data.get("otp_token") or "").strip()
        wanted = TOTPDevice if token.isdigit() else StaticDevice
        candidates = [
            d for d in devices_for_user(user, confirmed=True, for_verify=True) if isinstance(d, wanted)
        ]
        return candidates[0] if len(candidates) == 1 else None


class PlatformAdminSite(OTPAdminSite, UnfoldAdminSite):
    """One site: django-otp's verification check (``has_permission``) on unfold's pages. The login page
    is unfold's, with the authenticator code beside the password (templates/admin/otp_login.html)."""

    site_header = "CS Integration Hub"
    site_title = "CS Integration Hub admin"
    index_title = "Dashboard"
    login_form = PlatformLoginForm
    login_template = "admin/otp_login.html"
    index_template = "admin/dashboard.html"
    site_url = "/api/docs/"  # "View site": what this platform shows of itself is its API

    def __init__(self, name: str = "admin") -> None:
        # Keep the "admin" namespace, so reverse("admin:…") and the admin templates work unchanged.
        super().__init__(name)
