"""API: tags, interests, admin tag correction."""

urlpatterns: list = []
