"""Tag page, search and uploader profile."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from tagging import selectors as tag_selectors
from videoapp.pages import selectors
from videoapp.pages.common import paginate
from videoapp.selectors.accounts import user_get_public


@require_GET
def tag_page(request: HttpRequest, name: str) -> HttpResponse:
    try:
        tag = tag_selectors.tag_get_by_name(name=name)
    except Http404:
        raise Http404(_("标签不存在或已被屏蔽。"))
    if tag.name != name:  # a merged or differently written name: one address per tag
        return redirect("site-tag", name=tag.name)
    page = paginate(request, selectors.tag_video_cards(tag=tag))
    return render(request, "site/tag.html", {"tag": tag, "page": page, "cards": selectors.video_cards_of(page)})


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, strip=True)


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    q = form.cleaned_data["q"] if form.is_valid() else ""
    result = selectors.video_search(q=q)
    page = paginate(request, result.videos)
    return render(request, "site/search.html", {
        "form": form, "q": q, "terms": result.terms, "engine": result.engine, "page": page,
        "cards": selectors.video_cards_of(page), "tags": selectors.tag_search(terms=result.terms),
        "too_long": bool(form.errors),
    })


@require_GET
def profile(request: HttpRequest, username: str) -> HttpResponse:
    owner = user_get_public(username=username, viewer=request.user)
    page = paginate(request, selectors.uploader_video_list(owner=owner, viewer=request.user))
    return render(request, "site/profile.html", {
        "owner": owner, "page": page, "cards": selectors.video_cards_of(page),
        "is_self": request.user.is_authenticated and request.user.pk == owner.pk,
    })
