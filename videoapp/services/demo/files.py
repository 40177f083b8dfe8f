"""The KuaiRec files: where they are and how they read (no database).

The side-information file is read by :func:`recommender.kuairec.read_kuairec_videos`, the one
reader the offline evaluation uses too; the site keeps a caption's line breaks as newlines.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from recommender.kuairec import VIDEOS_FILE, KuaiVideo, parse_topic_tags, read_kuairec_videos

# KuaiVideo, VIDEOS_FILE and parse_topic_tags come from the shared reader.
__all__ = [
    "DEFAULT_PATH",
    "VIDEOS_FILE",
    "WATCH_LOG_FILE",
    "KuaiVideo",
    "WatchRecord",
    "parse_topic_tags",
    "read_videos",
    "read_watch_log",
]

DEFAULT_PATH = Path(settings.BASE_DIR) / "demo" / "kuairec"
WATCH_LOG_FILE = "interactions.csv"


@dataclass(frozen=True)
class WatchRecord:
    user_id: int
    video_id: int
    watch_ratio: float


def read_videos(path: Path) -> list[KuaiVideo]:
    """The videos of ``kuairec_caption_category.csv`` in the folder ``path``, in file order; a
    caption broken over lines keeps its line breaks (it becomes a video description)."""
    return read_kuairec_videos(Path(path) / VIDEOS_FILE, line_break="\n")


def read_watch_log(path: Path) -> list[WatchRecord]:
    """The rows of ``interactions.csv`` in file order (grouped by user, each user's rows in order)."""
    with open(Path(path) / WATCH_LOG_FILE, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        user_col, video_col, ratio_col = (header.index(name) for name in ("user_id", "video_id", "watch_ratio"))
        return [
            WatchRecord(user_id=int(row[user_col]), video_id=int(row[video_col]), watch_ratio=float(row[ratio_col]))
            for row in reader
            if row
        ]
