"""Routes of the finance API."""

app_name = "finance"

urlpatterns: list = []
