"""Home: 为你推荐 (personalised, with reasons), 热门 (hot, by category), 关注 (uploads of followed accounts).

Pages never repeat: the personalised feed excludes everything already shown (the recommender's exposure
filter), the hot list is one ranked list cut into slices, the following list has a stable order.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recommender.services import feed as feed_services
from videoapp.models import Video
from videoapp.pages import selectors
from videoapp.pages.common import PAGE_SIZE
from videoapp.services.media import seconds_label

TABS = ("foryou", "hot", "following")
HOT_MAX_PAGES = 5
CATEGORY_CHIPS = 12


class FeedQueryForm(forms.Form):
    tab = forms.ChoiceField(choices=[(t, t) for t in TABS], required=False)
    category = forms.CharField(required=False, max_length=64)
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)

    def cleaned(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "tab": data.get("tab") or "foryou", "category": data.get("category") or "", "page": data.get("page") or 1
        }


def _session_key(request: HttpRequest) -> str | None:
    if request.user.is_authenticated:
        return None
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def _feed_items(request: HttpRequest, *, tab: str, category: str, page: int) -> dict:
    """The items of one page of a tab, and whether there may be a next one."""
    if tab == "following":
        if not request.user.is_authenticated:
            return {"items": [], "has_next": False, "needs_login": True}
        videos = list(selectors.following_video_list(user=request.user)[(page - 1) * PAGE_SIZE: page * PAGE_SIZE + 1])
        items = [{"video": card, "channel": "following", "reason": ""} for card in selectors.video_cards_of(videos)]
        return {"items": items[:PAGE_SIZE], "has_next": len(items) > PAGE_SIZE}
    if tab == "hot":
        if page > HOT_MAX_PAGES:
            return {"items": [], "has_next": False}
        result = feed_services.hot_list(category=category or None, size=page * PAGE_SIZE)
        items = result.items[(page - 1) * PAGE_SIZE:]
        return {"items": items, "has_next": len(result.items) == page * PAGE_SIZE and page < HOT_MAX_PAGES,
                "result": result}
    result = feed_services.feed_build(user=request.user, session_key=_session_key(request), page=page,
                                      size=PAGE_SIZE)
    # A short page means the candidate pool is exhausted (everything else was already shown).
    return {"items": result.items, "has_next": len(result.items) >= PAGE_SIZE, "result": result}


def decorate_items(items: list[dict]) -> list[dict]:
    tags = selectors.video_active_tags(video_ids=[item["video"]["id"] for item in items])
    for item in items:
        item["tags"] = tags.get(item["video"]["id"], [])[:3]
        item["video"].setdefault("duration_label", seconds_label(item["video"].get("duration_seconds")))
    return items


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    query = FeedQueryForm(request.GET).cleaned()
    page = _feed_items(request, tab=query["tab"], category=query["category"], page=1)
    categories = list(
        Video.objects.public().exclude(category="").values_list("category", flat=True)
        .order_by("category").distinct()[:CATEGORY_CHIPS]
    ) if query["tab"] == "hot" else []
    result = page.get("result")
    return render(request, "site/home.html", {
        **query,
        "items": decorate_items(page["items"]),
        "has_next": page["has_next"],
        "needs_login": page.get("needs_login", False),
        "result": result,
        "suggested_users": result.suggested_users if result is not None else [],
        "categories": categories,
        "onboarding_pending": request.user.is_authenticated
        and getattr(getattr(request.user, "profile", None), "onboarding_state", "") == "pending",
    })


@require_GET
def home_more(request: HttpRequest) -> HttpResponse:
    """The next page of a tab as an HTML fragment (infinite scroll / the "more" button)."""
    query = FeedQueryForm(request.GET).cleaned()
    page = _feed_items(request, tab=query["tab"], category=query["category"], page=query["page"])
    response = render(request, "site/_feed_items.html", {
        **query, "items": decorate_items(page["items"]), "has_next": page["has_next"],
    })
    response["X-Has-Next"] = "1" if page["has_next"] else "0"
    return response
