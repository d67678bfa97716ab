"""Routes of the product API."""

app_name = "product"

urlpatterns: list = []
