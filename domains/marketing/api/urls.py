"""Routes of the marketing API."""

app_name = "marketing"

urlpatterns: list = []
