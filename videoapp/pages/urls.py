"""Site page routes; included by ``videoapp.urls`` after the API and the video pages of ``videoapp.views``."""

from django.urls import path

from videoapp.pages import accounts, backoffice, browse, feed, upload, watch

urlpatterns = [
    path("", feed.home, name="site-home"),
    path("feed/more", feed.home_more, name="site-home-more"),
    path("watch/<int:video_id>/", watch.watch, name="site-watch"),
    path("upload/", upload.upload, name="site-upload"),
    path("accounts/login/", accounts.login_page, name="site-login"),
    path("accounts/register/", accounts.register, name="site-register"),
    path("accounts/logout/", accounts.logout_page, name="site-logout"),
    path("onboarding/", accounts.onboarding, name="site-onboarding"),
    path("me/history/", accounts.my_history, name="site-my-history"),
    path("me/favourites/", accounts.my_favourites, name="site-my-favourites"),
    path("me/interests/", accounts.my_interests, name="site-my-interests"),
    path("tags/<path:name>/", browse.tag_page, name="site-tag"),
    path("search/", browse.search, name="site-search"),
    path("u/<str:username>/", browse.profile, name="site-profile"),
    path("backoffice/", backoffice.dashboard, name="site-backoffice"),
    path("backoffice/jobs/", backoffice.jobs, name="site-backoffice-jobs"),
    path("backoffice/tags/", backoffice.tags, name="site-backoffice-tags"),
    path("backoffice/keywords/", backoffice.keywords, name="site-backoffice-keywords"),
    path("backoffice/keywords/<int:entry_id>/delete/", backoffice.keyword_delete,
         name="site-backoffice-keyword-delete"),
]
