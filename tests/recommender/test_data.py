"""Events -> interaction matrix: weighting, every de-noising step, bad input, loaders."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from recommender import data
from recommender.data import RAW, DenoiseConfig, build_interactions

DAY = 86_400.0
PLAIN = replace(RAW, view_strength_from_ratio=True)  # every step off, views weighted by ratio


def value(inter, user, item) -> float:
    return float(inter.matrix[inter.user_index[user], inter.item_index[item]])


def test_kinds_are_weighted_and_summed_per_pair():
    events = [
        {"user": "u", "item": "a", "kind": "view", "value": 1.0},
        {"user": "u", "item": "a", "kind": "like"},
        {"user": "u", "item": "b", "kind": "favourite"},
        {"user": "u", "item": "c", "kind": "impression"},
    ]
    inter = build_interactions(events=events, config=PLAIN)
    assert value(inter, "u", "a") == pytest.approx(1.0 + 3.0)
    assert value(inter, "u", "b") == pytest.approx(4.0)
    assert value(inter, "u", "c") == 0.0  # an impression alone is no interest
    custom = build_interactions(events=events, config=PLAIN, weights={**data.DEFAULT_WEIGHTS, "like": 10.0})
    assert value(custom, "u", "a") == pytest.approx(11.0)


def test_dislike_leaves_the_positive_matrix_and_is_kept_as_negative():
    events = [
        {"user": "u", "item": "a", "kind": "view", "value": 1.0},
        {"user": "u", "item": "a", "kind": "dislike"},
        {"user": "u", "item": "b", "kind": "view", "value": 1.0},
    ]
    inter = build_interactions(events=events, config=PLAIN)
    assert value(inter, "u", "a") == 0.0
    assert inter.negatives[0, inter.item_index["a"]] < 0
    assert inter.matrix.min() >= 0


def test_accidental_clicks_are_dropped_and_the_step_can_be_switched_off():
    events = [
        {"user": "u", "item": "a", "kind": "view", "value": 0.05, "seconds": 1.0},
        {"user": "u", "item": "b", "kind": "view", "value": 0.9, "seconds": 30.0},
        {"user": "u", "item": "c", "kind": "view", "value": 0.9, "seconds": 1.0},
    ]
    cfg = replace(PLAIN, min_watch_ratio=0.1, min_watch_seconds=2.0)
    report = data.BuildReport()
    inter = build_interactions(events=events, config=cfg, report=report)
    assert value(inter, "u", "a") == 0.0 and value(inter, "u", "c") == 0.0
    assert value(inter, "u", "b") > 0
    assert report.dropped["accidental_clicks"] == 2
    assert inter.n_items == 3  # the item stays in the catalogue
    off = build_interactions(events=events, config=cfg.without("accidental_clicks"))
    assert value(off, "u", "a") > 0


def test_replays_are_capped():
    events = [{"user": "u", "item": "a", "kind": "view", "value": 144.0, "timestamp": 0.0}] + [
        {"user": "u", "item": "b", "kind": "view", "value": 1.0, "timestamp": float(t)} for t in range(50)
    ]
    inter = build_interactions(events=events, config=replace(PLAIN, max_watch_ratio=2.0))
    assert value(inter, "u", "a") == pytest.approx(2.0)
    assert value(inter, "u", "b") == pytest.approx(2.0)
    uncapped = build_interactions(events=events, config=PLAIN)
    assert value(uncapped, "u", "a") == pytest.approx(144.0)


def test_floods_count_once_per_window():
    events = [{"user": "u", "item": "a", "kind": "like", "timestamp": float(t)} for t in range(0, 50, 5)]
    events.append({"user": "u", "item": "a", "kind": "like", "timestamp": 600.0})
    inter = build_interactions(events=events, config=replace(PLAIN, flood_window=60.0))
    assert value(inter, "u", "a") == pytest.approx(2 * 3.0)  # one per minute window
    assert value(build_interactions(events=events, config=PLAIN), "u", "a") == pytest.approx(11 * 3.0)


def test_bots_are_dropped_entirely():
    events = [
        {"user": "bot", "item": f"i{t % 7}", "kind": "view", "value": 1.0, "timestamp": float(t)}
        for t in range(300)
    ]
    events += [{"user": "human", "item": "i1", "kind": "view", "value": 1.0, "timestamp": 10.0}]
    report = data.BuildReport()
    inter = build_interactions(events=events, config=replace(PLAIN, bot_max_events=100), report=report)
    assert inter.matrix[inter.user_index["bot"]].nnz == 0
    assert value(inter, "human", "i1") > 0
    assert report.bot_users == ["bot"]


def test_time_decay_halves_per_half_life_relative_to_the_users_latest_event():
    events = [
        {"user": "u", "item": "old", "kind": "like", "timestamp": 0.0},
        {"user": "u", "item": "new", "kind": "like", "timestamp": 10 * DAY},
        {"user": "v", "item": "old", "kind": "like", "timestamp": 0.0},
    ]
    inter = build_interactions(events=events, config=replace(PLAIN, half_life=10 * DAY))
    assert value(inter, "u", "old") == pytest.approx(value(inter, "u", "new") / 2)
    assert value(inter, "v", "old") == pytest.approx(3.0)  # v's latest event is that one


def test_per_user_normalisation():
    events = [{"user": "heavy", "item": f"i{i}", "kind": "favourite"} for i in range(9)]
    events += [{"user": "light", "item": "i0", "kind": "view", "value": 1.0}]
    inter = build_interactions(events=events, config=replace(PLAIN, normalisation="l2"))
    norms = np.sqrt(np.asarray(inter.matrix.multiply(inter.matrix).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    logged = build_interactions(events=events, config=replace(PLAIN, normalisation="log"))
    assert value(logged, "heavy", "i0") == pytest.approx(math.log1p(4.0))


def test_tags_become_item_features_and_user_interest_vectors():
    events = [{"user": "u", "item": "a", "kind": "like"}]
    inter = build_interactions(
        events=events,
        item_ids=["a", "new"],
        config=PLAIN,
        item_tags={"a": ["美食"], "new": {"科技": 2.0}},
        user_tags={"u": {"旅行": 1.0}, "ghost": {"x": 1.0}},
        item_groups={"a": "美食", "new": "科技"},
    )
    assert set(inter.feature_names) == {"美食", "科技", "旅行"}
    assert inter.item_features.shape == (2, 3)
    profile = dict(zip(inter.feature_names, inter.user_features.toarray()[0].tolist(), strict=True))
    assert profile["旅行"] > 0 and profile["美食"] > 0 and profile["科技"] == 0
    assert inter.item_groups == ["美食", "科技"]
    assert inter.matrix[:, inter.item_index["new"]].nnz == 0


def test_column_table_and_row_order_timestamps():
    table = {"user": [1, 1, 2], "item": [10, 11, 10]}
    inter = build_interactions(events=table, config=RAW)
    assert inter.matrix.shape == (2, 2)
    assert inter.matrix.sum() == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "empty"),
        ({"user": [], "item": []}, "empty"),
        ([{"user": "u"}], "user.*item"),
        ([{"user": "u", "item": "a", "value": -1.0}], "negative value"),
        ([{"user": "u", "item": "a", "value": float("inf")}], "infinite"),
        ([{"user": "u", "item": "a", "timestamp": float("nan")}], "NaN"),
        ([{"user": "u", "item": "a", "timestamp": 1.0}, {"user": "u", "item": "b"}], "missing .*timestamp"),
        ([{"user": "u", "item": "a", "kind": "teleport"}], "no weight"),
        ([{"user": "u", "item": "a", "value": "lots"}], "numeric"),
        ({"user": [1, 2], "item": [1]}, "entries"),
    ],
)
def test_bad_input_gets_a_clear_value_error(events, message):
    with pytest.raises(ValueError, match=message):
        build_interactions(events=events)


def test_unknown_ids_against_a_fixed_catalogue():
    with pytest.raises(ValueError, match="unknown ids"):
        build_interactions(events=[{"user": "u", "item": "zzz"}], item_ids=["a", "b"])


def test_nan_watch_ratio_means_unknown_not_a_crash():
    events = [
        {"user": "u", "item": "a", "kind": "view", "value": None},
        {"user": "u", "item": "b", "kind": "view", "value": float("nan")},
    ]
    inter = build_interactions(events=events)
    assert inter.matrix.nnz == 2 and np.isfinite(inter.matrix.data).all()


def test_duplicated_rows_and_a_single_event_user_are_handled():
    events = [{"user": "once", "item": "a", "kind": "view", "value": 1.0, "timestamp": 1.0}]
    events += [{"user": "dup", "item": "a", "kind": "like", "timestamp": 5.0}] * 3
    inter = build_interactions(events=events, config=DenoiseConfig())
    assert inter.matrix[inter.user_index["once"]].nnz == 1
    assert inter.matrix[inter.user_index["dup"]].nnz == 1


def test_ablation_switch_names_are_checked():
    with pytest.raises(ValueError, match="unknown de-noising step"):
        DenoiseConfig().without("magic")
    assert DenoiseConfig().without("time_decay").half_life is None


def test_csv_loader(tmp_path: Path):
    path = tmp_path / "r.csv"
    path.write_text("user_id,item_id,rating\n1,10,0.5\n1,11,2.0\n2,10,1.0\n")
    log = data.load_ratings_csv(path)
    assert log.user.tolist() == [1, 1, 2]
    assert log.timestamp.tolist() == [0.0, 1.0, 2.0]  # no timestamp: row order
    out = tmp_path / "copy.csv"
    data.write_ratings_csv(out, log)
    assert data.load_ratings_csv(out).rating.tolist() == [0.5, 2.0, 1.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("user_id,item_id,rating\n", "no data rows"),
        ("user_id,rating\n1,2\n", "no column"),
        ("user_id,item_id,rating\n1,2,nan\n", "NaN"),
        ("user_id,item_id,rating\n1,2,-1\n", "negative"),
        ("user_id,item_id,rating\n1,2,abc\n", "non-numeric"),
        ("user_id,item_id,rating\n1,2\n", "fields"),
    ],
)
def test_csv_loader_bad_input(tmp_path: Path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        data.load_ratings_csv(path)


# The demo catalogue in the repo is the KuaiRec copy the loader reads.
DEMO = Path(__file__).resolve().parents[2] / "demo"


@pytest.mark.skipif(
    not (DEMO / "kuairec" / "interactions.csv").exists(),
    reason="demo/kuairec not present in this checkout",
)
def test_kuairec_loader_reads_side_information():
    log, tags, titles, groups = data.load_kuairec(DEMO / "kuairec")
    assert len(log) == 117_113
    assert len(titles) == 10_728
    assert any(t.startswith("cat:") for t in tags[0])
    assert groups[0] == "颜值"


KUAIREC_HEADER = (
    "video_id,manual_cover_text,caption,topic_tag,first_level_category_id,first_level_category_name,"
    "second_level_category_id,second_level_category_name,third_level_category_id,third_level_category_name"
)
# Video 1's caption is broken by a bare carriage return (as in the real file), video 2's by a newline
# and a second line that does not start with a video id; a blank line sits between records.
KUAIREC_SIDE = (
    KUAIREC_HEADER + "\n"
    "1,UNKNOWN,我希望我们能开启一段王朝\r！,[],6,明星娱乐,-124,UNKNOWN,-124,UNKNOWN\n"
    '2,封面,第一行\n第二行 #美食,"[美食,家常菜]",3,美食,12,家常菜,-124,UNKNOWN\n'
    "\n"
    "3,UNKNOWN,,[],-124,UNKNOWN,-124,UNKNOWN,-124,UNKNOWN\n"
)


@pytest.fixture
def kuairec_dir(tmp_path: Path) -> Path:
    (tmp_path / "kuairec_caption_category.csv").write_bytes(KUAIREC_SIDE.encode("utf-8"))
    (tmp_path / "interactions.csv").write_text("user_id,video_id,watch_ratio\n7,1,1.5\n7,2,0.2\n")
    return tmp_path


def test_kuairec_reader_rejoins_a_caption_broken_over_lines(kuairec_dir: Path):
    from recommender.kuairec import read_kuairec_videos

    side = kuairec_dir / "kuairec_caption_category.csv"
    videos = read_kuairec_videos(side)
    assert [v.video_id for v in videos] == [1, 2, 3]
    assert videos[0].caption == "我希望我们能开启一段王朝\n！"
    assert videos[1].caption == "第一行\n第二行 #美食"
    assert videos[1].topic_tags == ("美食", "家常菜")
    assert (videos[1].category_id, videos[1].category, videos[1].subcategory) == (3, "美食", "家常菜")
    assert videos[1].cover_text == "封面"
    # UNKNOWN names and negative ids are "no category"; an UNKNOWN cover is empty.
    assert (videos[0].category, videos[0].subcategory, videos[0].cover_text) == ("明星娱乐", "", "")
    assert (videos[2].category_id, videos[2].category, videos[2].caption) == (None, "", "")

    joined = read_kuairec_videos(side, line_break=" ")
    assert [v.caption for v in joined[:2]] == ["我希望我们能开启一段王朝 ！", "第一行 第二行 #美食"]


def test_kuairec_loader_item_features_from_the_shared_reader(kuairec_dir: Path):
    log, tags, titles, groups = data.load_kuairec(kuairec_dir)
    assert len(log) == 2
    assert tags[2] == {"cat:美食": 1.0, "cat:家常菜": 1.0, "#美食": 1.0, "#家常菜": 1.0}
    assert tags[3] == {}
    assert titles[1] == "我希望我们能开启一段王朝 ！"  # one line
    assert titles[3] == "视频3"
    assert groups == {1: "明星娱乐", 2: "美食", 3: ""}
