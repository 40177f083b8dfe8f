from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django models live in records.py: recommender/models/ is the TensorFlow package.
        from . import records  # noqa: F401
