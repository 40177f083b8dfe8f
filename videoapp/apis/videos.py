"""API: videos."""

urlpatterns: list = []
