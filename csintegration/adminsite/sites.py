"""The admin site: staff password plus a verified OTP device, or no access at all."""

from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice


class PlatformLoginForm(OTPAdminAuthenticationForm):
    """Username, password and code in one step: without an explicit device choice, a numeric code goes
    to the user's authenticator (TOTP) device and any other code to their backup (static) tokens."""

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


class PlatformAdminSite(OTPAdminSite):
    site_header = "CS Integration Hub"
    site_title = "CS Integration Hub admin"
    index_title = "Back-office"
    login_form = PlatformLoginForm
    site_url = "/api/docs/"  # "View site": what this platform shows of itself is its API

    def __init__(self, name: str = "admin") -> None:
        # Keep the "admin" namespace, so reverse("admin:…") and the admin templates work unchanged.
        super().__init__(name)
