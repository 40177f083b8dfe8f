"""API: accounts."""

urlpatterns: list = []
