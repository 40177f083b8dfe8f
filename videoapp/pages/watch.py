"""The watch page: player (Range stream), poster, tags, actions, comments with replies, related videos."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from recommender.services import feed as feed_services
from tagging.selectors import video_tag_list
from videoapp.apis.videos import video_poster_url, video_stream_url
from videoapp.pages.feed import _session_key, decorate_items
from videoapp.selectors import videos as video_selectors
from videoapp.selectors.social import comment_list, video_social_state
from videoapp.services import media
from videoapp.services import videos as video_services
from videoapp.services.social import COMMENT_MAX_LENGTH, comment_can_delete

RELATED_SIZE = 12
COMMENTS_SHOWN = 50


class WatchQueryForm(forms.Form):
    """Where the viewer came from: the recommendation channel and request, kept on the view event."""

    ch = forms.SlugField(required=False, max_length=32)
    rid = forms.SlugField(required=False, max_length=64)


@require_GET
def watch(request: HttpRequest, video_id: int) -> HttpResponse:
    query = WatchQueryForm(request.GET)
    origin = query.cleaned_data if query.is_valid() else {}
    video = video_selectors.video_get_for_viewer(video_id=video_id, user=request.user)
    playable = video_selectors.video_playable_path(video=video) is not None
    can_edit = video_services.video_can_edit(video=video, user=request.user)
    comments = list(comment_list(video=video)[:COMMENTS_SHOWN])
    for comment in comments:  # the video owner is known: no query per comment
        comment.can_delete = comment_can_delete(comment=comment, user=request.user, video_owner_id=video.owner_id)
        for reply in comment.replies.all():
            reply.can_delete = comment_can_delete(comment=reply, user=request.user, video_owner_id=video.owner_id)
    related = feed_services.related_list(video=video, user=request.user, session_key=_session_key(request),
                                         size=RELATED_SIZE)
    return render(request, "site/watch.html", {
        "video": video,
        "playable": playable,
        "stream_url": video_stream_url(video) if playable else None,
        "poster_url": video_poster_url(video),
        "duration_label": media.seconds_label(video.duration_seconds),
        "can_edit": can_edit,
        "tags": list(video_tag_list(video=video, user=request.user)),
        "social": video_social_state(video=video, user=request.user),
        "comments": comments,
        "comment_max": COMMENT_MAX_LENGTH,
        "related": decorate_items(related.items),
        "related_request_id": related.request_id,
        "channel": origin.get("ch") or "",
        "request_id": origin.get("rid") or "",
        "is_owner": request.user.is_authenticated and request.user.pk == video.owner_id,
    })
