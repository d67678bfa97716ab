"""The OAuth 2.0 server: oauthlib's, without the resource-owner password grant."""

from oauthlib.oauth2 import Server


class PlatformServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._grant_types.pop("password", None)
