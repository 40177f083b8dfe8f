"""The pure keyword extractor: normalisation, hashtags, library rules, robustness (no database)."""

from __future__ import annotations

import csv
from pathlib import Path

import jieba
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagging.extraction import (
    ExtractionConfig,
    IdfTable,
    KeywordExtractor,
    KeywordLibrary,
    default_stop_words,
    learn_idf,
    normalize_tag,
    normalize_text,
)

_ROOT = Path(__file__).resolve().parents[2]
KUAIREC = next(
    (
        p
        for p in (
            _ROOT / "demo" / "kuairec" / "kuairec_caption_category.csv",
            _ROOT.parent / "shared" / "data" / "kuairec" / "kuairec_caption_category.csv",
        )
        if p.is_file()
    ),
    _ROOT.parent / "shared" / "data" / "kuairec" / "kuairec_caption_category.csv",
)

TEXT = (
    "深度学习在图像识别中的应用。本文研究深度学习模型的训练方法,提出一种改进的卷积神经网络。"
    "实验表明,改进的卷积神经网络在图像识别任务上优于传统方法。"
)


@pytest.fixture(scope="module")
def extractor() -> KeywordExtractor:
    return KeywordExtractor()


def words(results: list[tuple[str, float]]) -> list[str]:
    return [word for word, _ in results]


# -- normalisation ---------------------------------------------------------------------------


@given(st.text())
def test_normalize_tag_is_idempotent(value: str) -> None:
    once = normalize_tag(value)
    assert normalize_tag(once) == once


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("＃Ｐｙｔｈｏｎ＃", "python"),  # full-width hash and letters
        ("  Machine   Learning ", "machine learning"),
        ("#美食#", "美食"),
        ("「机器学习」", "机器学习"),
        ("火锅🔥", "火锅"),
        ("C++", "c++"),
        ("🔥🔥", ""),
    ],
)
def test_normalize_tag_examples(raw: str, expected: str) -> None:
    assert normalize_tag(raw) == expected


def test_normalize_text_folds_width_and_case() -> None:
    assert normalize_text("ＡＢＣ１２３，Ｈｅｌｌｏ") == "abc123,hello"


# -- robustness ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(), title=st.text(max_size=50), k=st.integers(min_value=-2, max_value=12))
def test_extract_never_raises_and_respects_k(
    extractor: KeywordExtractor, text: str, title: str, k: int
) -> None:
    results = extractor.extract(text=text, title=title, k=k)
    assert len(results) <= max(k, 0)
    assert len({w for w, _ in results}) == len(results)
    for word, score in results:
        assert word == normalize_tag(word) and word
        assert 0 < score <= 1.0
    assert isinstance(extractor.hashtags(text), list)
    assert len(extractor.suggest_tags(text=text, title=title, k=k)) <= max(k, 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            sorted(default_stop_words())[:200] + ["火锅", "美食", "成都", "旅游", "，", "。", " "]
        ),
        max_size=60,
    )
)
def test_stop_words_are_never_returned(extractor: KeywordExtractor, pieces: list[str]) -> None:
    results = extractor.extract(text="".join(pieces), k=10)
    assert not set(words(results)) & default_stop_words()


# -- content ---------------------------------------------------------------------------------


def test_extracts_topic_words_and_compounds(extractor: KeywordExtractor) -> None:
    top = words(extractor.extract(text=TEXT, k=5))
    assert "深度学习" in top
    assert "卷积神经网络" in top  # a repeated noun run becomes one compound keyword
    assert "图像识别" in top
    # "卷积" never occurs outside "卷积神经网络", so it is not a keyword of its own
    assert "卷积" not in words(extractor.extract(text=TEXT, k=30))


def test_scores_are_relative_and_sorted(extractor: KeywordExtractor) -> None:
    scores = [s for _, s in extractor.extract(text=TEXT, k=8)]
    assert scores[0] == 1.0
    assert scores == sorted(scores, reverse=True)


def test_title_words_weigh_more(extractor: KeywordExtractor) -> None:
    text = "今天去了成都，吃了火锅，也逛了宽窄巷子。"
    plain = words(extractor.extract(text=text, k=1))
    titled = words(extractor.extract(text=text, title="宽窄巷子", k=1))
    assert titled == ["宽窄巷子"]
    assert plain != titled or plain == ["宽窄巷子"]


def test_mixed_chinese_english_full_width(extractor: KeywordExtractor) -> None:
    top = words(extractor.extract(text="用Ｐｙｔｈｏｎ写爬虫，Python爬虫入门教程，PYTHON真好用", k=5))
    assert "python" in top
    assert all(w == w.lower() for w in top)


def test_hashtags_become_tags_not_keywords(extractor: KeywordExtractor) -> None:
    text = "#美食# 今天吃火锅 #Vlog #日常记录 火锅真香 #美食"
    assert extractor.hashtags(text) == ["美食", "vlog", "日常记录"]
    keywords = words(extractor.extract(text=text, k=10))
    assert "火锅" in keywords
    assert not {"美食", "vlog", "日常记录", "日常"} & set(keywords)
    suggested = words(extractor.suggest_tags(text=text, k=4))
    assert suggested[:3] == ["美食", "vlog", "日常记录"]  # hashtags first, then keywords
    assert len(suggested) == 4 and "火锅" in suggested[3]


def test_mentions_urls_and_emoji_are_not_keyword_material(extractor: KeywordExtractor) -> None:
    text = (
        "@张小龙 @快手小助手(O40300112) 看这个 https://www.example.com/path?q=火锅教程 "
        "邮箱 chef@example.org 😋🔥❤️ 火锅底料做法 火锅底料"
    )
    keywords = words(extractor.extract(text=text, k=10))
    assert "火锅底料" in keywords
    for junk in (
        "张小龙",
        "快手小助手",
        "example",
        "www",
        "com",
        "https",
        "o40300112",
        "chef",
        "org",
        "教程",
    ):
        assert junk not in keywords
    assert not any(ch in "".join(keywords) for ch in "😋🔥❤")


# -- the keyword library ---------------------------------------------------------------------


def test_user_dictionary_keeps_words_whole_without_leaking() -> None:
    word = "炫彩星耀团"  # not in jieba's dictionary: it would be cut
    text = f"{word}今晚直播，{word}新歌发布。"
    default_tokens = KeywordExtractor().tokens(text)
    assert word not in default_tokens
    with_library = KeywordExtractor(library=KeywordLibrary(version="t1", user_words=frozenset({word})))
    assert word in with_library.tokens(text)
    assert word in words(with_library.extract(text=text, k=3))
    # neither jieba's global tokenizer nor a fresh default extractor learnt the word
    assert word not in jieba.lcut(text)
    assert word not in KeywordExtractor().tokens(text)


def test_library_versions_get_their_own_tokenizer() -> None:
    a = KeywordExtractor(library=KeywordLibrary(version="va", user_words=frozenset({"星耀团"})))
    b = KeywordExtractor(library=KeywordLibrary(version="vb", user_words=frozenset({"耀团长"})))
    again = KeywordExtractor(library=KeywordLibrary(version="va", user_words=frozenset({"星耀团"})))
    assert a._tokenizer is again._tokenizer
    assert a._tokenizer is not b._tokenizer
    assert "耀团长" not in a._tokenizer.FREQ


def test_synonyms_map_to_canonical() -> None:
    library = KeywordLibrary(version="syn", synonyms={"电脑": "计算机", "Ｐｃ": "电脑"})
    ex = KeywordExtractor(library=library)
    keywords = words(ex.extract(text="电脑维修教程：电脑开不了机怎么办，电脑蓝屏怎么办", k=5))
    assert "计算机" in keywords and "电脑" not in keywords
    assert library.canonical("pc") == "计算机"  # chains are followed and keys normalised
    assert ex.hashtags("#电脑# #PC") == ["计算机"]


def test_blocked_words_are_never_returned() -> None:
    text = "#火锅 火锅火锅火锅，成都火锅最好吃，重庆火锅也不错"
    ex = KeywordExtractor(library=KeywordLibrary(version="blk", blocked=frozenset({"火锅"})))
    assert "火锅" not in words(ex.extract(text=text, k=20))
    assert "火锅" not in ex.hashtags(text)
    assert "火锅" not in words(ex.suggest_tags(text=text, k=20))


def test_library_stop_words_are_never_returned() -> None:
    text = "成都美食探店，成都火锅，成都小吃"
    assert "成都" in words(KeywordExtractor().extract(text=text, k=5))
    ex = KeywordExtractor(library=KeywordLibrary(version="stop", stop_words=frozenset({"成都"})))
    assert "成都" not in words(ex.extract(text=text, k=20))


# -- IDF ---------------------------------------------------------------------------------------


def test_learnt_idf_round_trips_through_json_and_ranks_rare_words_higher() -> None:
    corpus = ["成都火锅真好吃"] * 5 + ["成都的熊猫基地"] * 5 + ["宽窄巷子的火锅"]
    table = learn_idf(corpus)
    assert IdfTable.from_json(table.to_json()) == table
    assert table.doc_count == len(corpus)
    assert table.get("成都") < table.get("熊猫")  # in 10 docs vs 5
    # a word neither the corpus nor jieba knows is as rare as a word seen once; every IDF is positive
    assert table.get("从未出现过的词xyz") == table.default_idf
    assert all(table.get(w) > 0 for w in ("的", "模型", "成都", "zzz"))
    ex = KeywordExtractor(idf=table)
    assert words(ex.extract(text="成都 熊猫", k=1)) == ["熊猫"]


def test_config_switches_change_candidates() -> None:
    plain = KeywordExtractor(config=ExtractionConfig(compounds=False))
    assert "卷积神经网络" not in words(plain.extract(text=TEXT, k=30))


# -- real captions ---------------------------------------------------------------------------


def test_hashtags_match_kuairec_topic_tags() -> None:
    if not KUAIREC.is_file():
        pytest.skip(f"KuaiRec captions not found at {KUAIREC}")
    ex = KeywordExtractor()
    agree = total = 0
    with open(KUAIREC, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            caption = row["caption"] or ""
            listed = (row["topic_tag"] or "").strip("[]")
            gold = {t for t in (normalize_tag(x) for x in listed.split(",")) if t}
            if "#" not in caption:
                continue
            total += 1
            agree += set(ex.hashtags(caption)) == gold
    assert total > 5000
    # the remainder are mostly tags listed by the platform but absent from the caption
    assert agree / total >= 0.95
