"""The API router: paths without a trailing slash, one tolerated."""

from rest_framework.routers import SimpleRouter


class PlatformRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(trailing_slash=False)
        self.trailing_slash = "/?"
