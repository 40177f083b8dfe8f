"""Display titles for KuaiRec captions (no database)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from videoapp.services.demo.tag_plan import PLATFORM_TAG_RE

TITLE_MAX_CHARS = 60

# Kuaishou mentions carry the account id in parentheses: ``@快手小助手(O40300112)``.
_MENTION_RE = re.compile(r"@[^\s@#]{0,40}?\([A-Za-z]?\d+\)|@[^\s@#，。！？]{1,40}")
# What is left of a mention whose name held a space: ``heben(O580319244)``.
_ACCOUNT_ID_RE = re.compile(r"\S{0,40}\([A-Za-z]\d{5,}\)|@(?=\s|$)")
# A Kuaishou hashtag runs to the next whitespace or ``#``; Weibo style closes it with ``#`` (``#话题# ``).
_HASHTAG = r"(?>#+[^\s#]*(?:#(?=\s|$))?)"  # atomic: "###" never backtracks into 2^n splits
_LEADING_TAGS_RE = re.compile(rf"^(?:\s*{_HASHTAG})+")
_TRAILING_TAGS_RE = re.compile(rf"(?:{_HASHTAG}\s*)+$")
_TAG_RUN_RE = re.compile(rf"(?:{_HASHTAG}\s*){{2,}}")
_INLINE_TAG_RE = re.compile(r"#+([^\s#]+)(?:#(?=\s|$))?")
_SPACE_RE = re.compile(r"[\s\u00a0\u3000\u200b-\u200f\ufeff]+")
_WORD_RE = re.compile(r"\w")
_SENTENCE_END = "。！？!?；;…~～"
_CLAUSE_END = "，,、：: "


def _clean_caption(caption: str) -> str:
    text = caption.replace("＃", "#")
    text = _MENTION_RE.sub(" ", text)
    text = _ACCOUNT_ID_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    text = _LEADING_TAGS_RE.sub("", text)
    text = _TRAILING_TAGS_RE.sub("", text)
    # A run of hashtags mid-caption is a tag block; a single specific hashtag inside a sentence is a
    # word of it (keep the word, drop the marker); platform boilerplate is never part of a title.
    text = _TAG_RUN_RE.sub(" ", text)
    text = _INLINE_TAG_RE.sub(lambda m: " " if PLATFORM_TAG_RE.search(m.group(1)) else m.group(1), text)
    text = text.replace("#", " ")
    return _SPACE_RE.sub(" ", text).strip()


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after the last sentence or clause end that keeps a
    reasonable length; a cut that is not at a sentence end gets an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    floor = limit // 3
    for ends, ellipsis in ((_SENTENCE_END, ""), (_CLAUSE_END, "…")):
        position = max(head.rfind(char) for char in ends)
        if position >= floor:
            return head[: position + 1].rstrip(_CLAUSE_END) + ellipsis
    return head[: limit - 1].rstrip() + "…"


def caption_title(*, caption: str, cover_text: str = "", hashtags: Sequence[str] = (), fallback: str) -> str:
    """A display title for a KuaiRec caption: hashtags and mentions removed, about
    :data:`TITLE_MAX_CHARS` characters. When no words are left (an empty or hashtag-only caption):
    the cover text, else the caption's specific hashtags (platform boilerplate skipped), else ``fallback``."""
    specific = " ".join(tag for tag in hashtags if not PLATFORM_TAG_RE.search(tag))
    for candidate in (_clean_caption(caption), _SPACE_RE.sub(" ", cover_text).strip(), specific):
        if _WORD_RE.search(candidate):
            return _cut(candidate, TITLE_MAX_CHARS)
    return _cut(fallback, TITLE_MAX_CHARS)
