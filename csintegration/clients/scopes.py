"""Scopes backend: a client can be granted only the scopes it was registered with."""

from django.conf import settings
from oauth2_provider.scopes import BaseScopes


class ClientScopes(BaseScopes):
    def get_all_scopes(self):
        return dict(settings.API_SCOPES)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            return list(settings.API_SCOPES)
        return [scope for scope in application.scope_list if scope in settings.API_SCOPES]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)
