from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from videoapp.apis import health

api_v1 = [
    path("health/live", health.LiveApi.as_view(), name="health-live"),
    path("health/ready", health.ReadyApi.as_view(), name="health-ready"),
    # Before the accounts routes: /users/suggested must not read as a user named "suggested".
    path("", include("recommender.apis")),
    path("", include("videoapp.apis.accounts")),
    path("", include("videoapp.apis.videos")),
    path("", include("videoapp.apis.social")),
    path("", include("videoapp.apis.events")),
    path("", include("tagging.apis")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("videoapp.views")),
    # Site pages last: they never shadow the API, the admin or the video pages above.
    path("", include("videoapp.pages.urls")),
]

handler404 = "videoapp.apis.errors.api_aware_not_found"
