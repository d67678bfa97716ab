"""Routes of the operations API."""

app_name = "operations"

urlpatterns: list = []
