"""The KuaiRec demo import: parsing, titles, tags, viewers, view events, idempotence."""

from __future__ import annotations

import filecmp
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tagging.extraction import normalize_tag
from tagging.models import Tag, VideoTag
from videoapp.models import Event, Profile, Video
from videoapp.services.demo import (
    DEFAULT_PATH,
    EVENT_WINDOW_DAYS,
    UPLOADER_MISC,
    WatchRecord,
    caption_title,
    kuairec_import,
    parse_topic_tags,
    read_videos,
    viewer_username,
    watch_event_id,
    watch_times,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

HEADER = (
    "video_id,manual_cover_text,caption,topic_tag,first_level_category_id,first_level_category_name,"
    "second_level_category_id,second_level_category_name,third_level_category_id,third_level_category_name"
)
# The same shape as demo/kuairec: a bare carriage return inside an unquoted caption (video 3), a quoted
# multi-tag list, UNKNOWN and negative category ids, an empty caption, platform boilerplate hashtags.
VIDEO_ROWS = [
    "0,UNKNOWN,精神小伙路难走 程哥你狗粮慢点撒,[],8,颜值,673,颜值随拍,-124,UNKNOWN",
    '1,五爱街最美美女,#搞笑 #感谢快手我要上热门 #五爱市场 这真是完美搭配啊！,"[五爱市场,感谢快手我要上热门,搞笑]",'
    "9,喜剧,727,搞笑互动,-124,UNKNOWN",
    '2,UNKNOWN,独家秘制麻辣红油芒果冰棍儿#美食 #吃播 #我是吃货 ,"[吃播,我是吃货,美食]",5,美食,211,美食教程,2434,家常菜',
    "3,UNKNOWN,张凯教练：“我希望我们能开启一段王朝\r！”,[],6,明星娱乐,-124,UNKNOWN,-124,UNKNOWN",
    "4,UNKNOWN,,[美食],5,美食,211,美食教程,-124,UNKNOWN",
    "5,UNKNOWN,#吃播 ,[吃播],-124,UNKNOWN,-124,UNKNOWN,-124,UNKNOWN",
]
# Three viewers, rows grouped by viewer; video 5 is never watched.
WATCH_ROWS = [
    (14, 2, 1.33),
    (14, 0, 0.5),
    (14, 4, 0.95),
    (21, 1, 2.5),
    (21, 2, 0.1),
    (30, 3, 0.8),
    (30, 2, 1.0),
    (30, 4, 0.0),
]


@pytest.fixture
def kuairec_dir(tmp_path: Path) -> Path:
    (tmp_path / "kuairec_caption_category.csv").write_bytes(("\n".join([HEADER, *VIDEO_ROWS]) + "\n").encode())
    lines = ["user_id,video_id,watch_ratio", *(f"{u},{v},{r}" for u, v, r in WATCH_ROWS)]
    (tmp_path / "interactions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _counts() -> tuple[int, ...]:
    return (
        Video.objects.count(),
        get_user_model().objects.count(),
        Profile.objects.count(),
        Tag.objects.count(),
        VideoTag.objects.count(),
        Event.objects.count(),
    )


# --- reading and titles (no database) ---


def test_read_videos_keeps_the_carriage_return_inside_a_caption(kuairec_dir):
    videos = read_videos(kuairec_dir)

    assert [v.video_id for v in videos] == [0, 1, 2, 3, 4, 5]
    assert videos[3].caption == "张凯教练：“我希望我们能开启一段王朝\n！”"
    assert videos[3].category == "明星娱乐" and videos[3].subcategory == "" and videos[3].subsubcategory == ""
    assert videos[1].cover_text == "五爱街最美美女" and videos[0].cover_text == ""
    assert videos[1].topic_tags == ("五爱市场", "感谢快手我要上热门", "搞笑")
    assert videos[2].subsubcategory == "家常菜"
    assert videos[5].category == "" and videos[5].category_id is None


def test_parse_topic_tags():
    assert parse_topic_tags("[]") == []
    assert parse_topic_tags("[a,b ,c]") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("caption", "cover", "hashtags", "expected"),
    [
        ("#搞笑 #感谢快手我要上热门 #五爱市场 这真是完美搭配啊！", "", (), "这真是完美搭配啊！"),
        ("虽然#范冰冰 绯闻不断 #明星 ", "", (), "虽然范冰冰 绯闻不断"),
        ("素有无菜不蒸！@快手创作者激励计划(O792200110) @推广小助手(O40300047) #快手创", "", (), "素有无菜不蒸！"),
        ("@Young heben(O580319244) 好家伙", "", (), "好家伙"),
        ("", "76岁老汉吃白皮拉面", (), "76岁老汉吃白皮拉面"),
        ("#赵丽颖 #感谢快手我要上热门", "", ("赵丽颖", "感谢快手我要上热门"), "赵丽颖"),
        ("", "", (), "颜值随拍 · 短视频 7"),
    ],
)
def test_caption_title(caption, cover, hashtags, expected):
    title = caption_title(caption=caption, cover_text=cover, hashtags=hashtags, fallback="颜值随拍 · 短视频 7")

    assert title == expected


def test_long_caption_is_cut_on_a_sentence_end():
    caption = "第一句话说得比较长一些一些一些。" * 3 + "最后一句永远放不进标题里面去了吧"
    title = caption_title(caption=caption, fallback="x")

    assert len(title) <= 60
    assert title.endswith("。")
    assert caption.startswith(title)


def test_long_caption_without_punctuation_is_cut_with_an_ellipsis():
    title = caption_title(caption="好" * 100, fallback="x")

    assert title == "好" * 59 + "…"


def test_watch_times_keep_each_users_file_order_inside_the_window():
    records = [WatchRecord(user_id=u, video_id=v, watch_ratio=r) for u, v, r in WATCH_ROWS]

    times = watch_times(records=records, now=NOW)

    assert times == watch_times(records=records, now=NOW)  # deterministic
    for user in {r.user_id for r in records}:
        mine = [t for r, t in zip(records, times, strict=True) if r.user_id == user]
        assert mine == sorted(mine) and len(set(mine)) == len(mine)
    assert all(NOW - timedelta(days=EVENT_WINDOW_DAYS) <= t <= NOW for t in times)


# --- the import ---


@pytest.mark.django_db
def test_import_creates_videos_tags_viewers_and_view_events(kuairec_dir):
    result = kuairec_import(path=kuairec_dir, now=NOW)

    assert (result.videos_created, result.users_created, result.events_created) == (6, 3, 8)
    video = Video.objects.select_related("owner__profile").get(external_id="2")
    assert video.title == "独家秘制麻辣红油芒果冰棍儿"
    assert video.description == "独家秘制麻辣红油芒果冰棍儿#美食 #吃播 #我是吃货"
    assert (video.category, video.subcategory, video.subsubcategory) == ("美食", "美食教程", "家常菜")
    assert video.status == Video.Status.PUBLISHED and video.visibility == Video.Visibility.PUBLIC
    assert not video.has_media
    assert video.owner.profile.display_name == "官方·美食"
    assert not video.owner.has_usable_password()
    assert Video.objects.get(external_id="5").owner.username == UPLOADER_MISC
    assert Video.objects.get(external_id="4").title == "美食"  # hashtag-only caption: its specific tag
    assert Video.objects.get(external_id="1").cover_text == "五爱街最美美女"

    # Hashtags and the first-level category are the uploader's active tags.
    tags = set(VideoTag.objects.filter(video=video).values_list("tag__name", "source", "state", "score"))
    assert tags == {(name, "uploader", "active", 1.0) for name in ("美食", "吃播", "我是吃货")}
    assert set(VideoTag.objects.filter(video__external_id="5").values_list("tag__name", flat=True)) == {"吃播"}

    # The tag library: category tags carry their category, usage counts and ranks follow use.
    food = Tag.objects.get(name="美食")
    assert (food.category, food.usage_count, food.offered_in_onboarding) == ("美食", 2, True)
    boilerplate = Tag.objects.get(name=normalize_tag("感谢快手我要上热门"))
    assert not boilerplate.offered_in_onboarding and boilerplate.usage_count == 1
    assert Tag.objects.get(name="吃播").category == "美食"  # half of its uses are in 美食
    assert food.display_order < boilerplate.display_order

    # Viewers and their view events.
    viewer = get_user_model().objects.select_related("profile").get(username=viewer_username(14))
    assert viewer.username == "kuai_00014"
    assert (viewer.profile.external_id, viewer.profile.onboarding_state) == ("14", Profile.Onboarding.DONE)
    assert not viewer.has_usable_password()
    views = list(Event.objects.filter(user=viewer).order_by("created_at"))
    assert [(e.video.external_id, e.watch_ratio, e.kind) for e in views] == [
        ("2", 1.33, "view"),
        ("0", 0.5, "view"),
        ("4", 0.95, "view"),
    ]
    assert all(e.watch_seconds is None for e in views)
    assert views[0].event_id == watch_event_id(user_id=14, video_id=2)

    # Every video is published before anyone watched it, and within the last 90-odd days.
    for event in Event.objects.select_related("video"):
        assert event.video.published_at < event.created_at <= NOW
    assert all(NOW - timedelta(days=92) <= v.published_at <= NOW for v in Video.objects.all())
    assert all(v.created_at == v.published_at for v in Video.objects.all())


@pytest.mark.django_db
def test_import_twice_adds_nothing(kuairec_dir):
    kuairec_import(path=kuairec_dir, now=NOW)
    before = _counts()

    again = kuairec_import(path=kuairec_dir, now=NOW + timedelta(days=3))

    assert _counts() == before
    assert (again.videos_created, again.tags_created, again.video_tags_created) == (0, 0, 0)
    assert (again.users_created, again.events_created) == (0, 0)
    assert (again.videos_existing, again.users_existing, again.events_existing) == (6, 3, 8)


@pytest.mark.django_db
def test_reimport_keeps_admin_curation(kuairec_dir):
    kuairec_import(path=kuairec_dir, now=NOW)
    Tag.objects.filter(name="吃播").update(offered_in_onboarding=False, display_order=999, category="")
    VideoTag.objects.filter(video__external_id="2", tag__name="我是吃货").delete()

    kuairec_import(path=kuairec_dir, now=NOW)

    assert Tag.objects.filter(name="吃播", offered_in_onboarding=False, display_order=999, category="").exists()
    assert not VideoTag.objects.filter(video__external_id="2", tag__name="我是吃货").exists()
    assert Tag.objects.get(name="我是吃货").usage_count == 0


@pytest.mark.django_db
def test_command_limit_users_then_the_rest(kuairec_dir):
    call_command("import_kuairec", path=kuairec_dir, limit_users=1, no_progress=True, verbosity=0)

    assert get_user_model().objects.filter(username__startswith="kuai_0").count() == 1
    assert Event.objects.count() == 3
    assert Video.objects.count() == 6

    call_command("import_kuairec", path=kuairec_dir, no_progress=True, verbosity=0)

    assert get_user_model().objects.filter(username__startswith="kuai_0").count() == 3
    assert Event.objects.count() == len(WATCH_ROWS)


@pytest.mark.django_db
def test_command_no_events_creates_viewers_only(kuairec_dir, capsys):
    call_command("import_kuairec", path=kuairec_dir, no_events=True, no_progress=True)

    assert Profile.objects.filter(external_id__in=["14", "21", "30"]).count() == 3
    assert not Event.objects.exists()
    assert "videos: 6 created" in capsys.readouterr().out


@pytest.mark.django_db
def test_command_rejects_a_folder_without_the_files(tmp_path):
    with pytest.raises(CommandError, match="not found"):
        call_command("import_kuairec", path=tmp_path, no_progress=True)


# --- the real data set ---


def test_repo_copy_matches_the_shared_data(shared_data):
    names = [p.name for p in (shared_data / "kuairec").iterdir()]
    match, mismatch, errors = filecmp.cmpfiles(shared_data / "kuairec", DEFAULT_PATH, names, shallow=False)

    assert (mismatch, errors) == ([], [])
    assert "LICENSE_KuaiRec_CC-BY-SA-4.0" in match and "PROVENANCE.md" in match


@pytest.mark.django_db
def test_full_import_counts():
    result = kuairec_import(path=DEFAULT_PATH)

    assert (result.videos_created, result.users_created, result.events_created) == (10_728, 1_411, 117_113)
    assert Video.objects.count() == 10_728
    assert Event.objects.filter(kind=Event.Kind.VIEW).count() == 117_113
    assert Profile.objects.filter(external_id__regex=r"^\d+$").count() == 1_411
    assert Video.objects.exclude(category="").values("category").distinct().count() >= 35
    assert Tag.objects.filter(offered_in_onboarding=True).count() >= 100
    assert not Tag.objects.filter(offered_in_onboarding=True, name__contains="热门").exists()


def test_title_of_a_caption_made_of_hash_signs_is_quick():
    # Nested quantifiers over "###..." would backtrack exponentially without the atomic group.
    assert caption_title(caption="#" * 5000 + " 好", fallback="x") == "好"
