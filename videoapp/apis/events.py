"""API: events."""

urlpatterns: list = []
