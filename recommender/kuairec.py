"""The KuaiRec side-information file ``kuairec_caption_category.csv`` (pure: no Django import).

One reader for both users of the file: the offline evaluation's item features
(:func:`recommender.data.load_kuairec`) and the demo import of the site (``videoapp.services.demo``).

The file is not quite CSV. Records end with ``"\\n"``, but four captions hold a bare carriage
return inside an unquoted field, which :mod:`csv` rejects. The rule here: a lone ``"\\r"`` never
ends a record, and a physical line that does not start with a video id (``<digits>,``) continues
the record before it; blank lines are skipped. A break inside a record becomes ``line_break`` in
the caption (the site keeps ``"\\n"`` so a description shows it; the evaluation's one-line titles
use ``" "``) and a space in every other field.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

VIDEOS_FILE = "kuairec_caption_category.csv"
MISSING = "UNKNOWN"

_RECORD_START = re.compile(r"\d+,")
# Marks a line break inside a record while :mod:`csv` parses it (a private-use character).
_BREAK = "\ue000"


@dataclass(frozen=True)
class KuaiVideo:
    """One row of the side-information file. Missing values (``UNKNOWN``, negative category ids)
    are empty strings / ``None``."""

    video_id: int
    caption: str
    cover_text: str
    topic_tags: tuple[str, ...]
    category_id: int | None
    category: str
    subcategory: str
    subsubcategory: str


def parse_topic_tags(value: str) -> list[str]:
    """``[tag1,tag2]`` -> ``["tag1", "tag2"]`` (KuaiRec hashtags never contain a comma)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [item.strip() for item in value.split(",") if item.strip()]


def _category_name(category_id: str, name: str | None) -> str:
    """UNKNOWN names and negative ids both mean "no category"."""
    name = (name or "").strip()
    if not name or name == MISSING or category_id.strip().startswith("-"):
        return ""
    return name


def _records(text: str) -> Iterator[str]:
    """The header, then one string per record, with :data:`_BREAK` where a record was broken."""
    record: str | None = None
    header_pending = True
    for line in text.replace("\r\n", "\n").replace("\r", _BREAK).split("\n"):
        if not line:
            continue
        if header_pending:
            header_pending = False
            yield line
        elif record is not None and not _RECORD_START.match(line):
            record += _BREAK + line
        else:
            if record is not None:
                yield record
            record = line
    if record is not None:
        yield record


def read_kuairec_videos(path: Path | str, *, line_break: str = "\n") -> list[KuaiVideo]:
    """The videos of a ``kuairec_caption_category.csv`` file at ``path``, in file order.

    ``line_break`` is what a line break inside a caption becomes (see the module docstring);
    captions and cover texts are stripped, an ``UNKNOWN`` cover text is empty.
    """
    # newline="": no newline translation, a lone "\r" must reach _records.
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()

    def field(value: str | None) -> str:
        return (value or "").replace(_BREAK, " ")

    videos = []
    for row in csv.DictReader(_records(text)):
        first_id = field(row["first_level_category_id"])
        category = _category_name(first_id, field(row["first_level_category_name"]))
        cover = field(row["manual_cover_text"]).strip()
        videos.append(
            KuaiVideo(
                video_id=int(field(row["video_id"])),
                caption=(row["caption"] or "").replace(_BREAK, line_break).strip(),
                cover_text="" if cover == MISSING else cover,
                topic_tags=tuple(parse_topic_tags(field(row["topic_tag"]))),
                category_id=int(first_id) if category else None,
                category=category,
                subcategory=_category_name(
                    field(row["second_level_category_id"]), field(row["second_level_category_name"])
                ),
                subsubcategory=_category_name(
                    field(row["third_level_category_id"]), field(row["third_level_category_name"])
                ),
            )
        )
    return videos
