"""The lockout check in front of the password check (django-axes)."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for sign-ins that come with a request (the admin's login form).

    ``authenticate()`` called without a request (a management command, ``Client.login`` in a test) is no
    web sign-in, so there is no address to lock out; the check then steps aside instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
