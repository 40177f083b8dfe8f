from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VideoappConfig(AppConfig):
    name = "videoapp"
    verbose_name = _("视频站")
    default_auto_field = "django.db.models.BigAutoField"
