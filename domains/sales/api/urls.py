"""Routes of the sales API."""

app_name = "sales"

urlpatterns: list = []
