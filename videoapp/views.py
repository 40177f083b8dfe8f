"""Site pages."""

urlpatterns: list = []
