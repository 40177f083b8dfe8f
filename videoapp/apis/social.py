"""API: social."""

urlpatterns: list = []
