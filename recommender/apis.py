"""API: feed, related, hot, suggested users."""

urlpatterns: list = []
