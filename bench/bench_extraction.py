"""Keyword-extraction throughput (docs/s) on the KuaiRec captions, against bare jieba.

    .venv/bin/python bench/bench_extraction.py [--csv PATH] [--repeats 5] [--limit N]

Both extractors run on the same captions in the same process, alternately, after a warm-up that
loads every dictionary; the figures are medians over the repeats. The project's extractor runs
with an IDF table learnt from the same captions (as the site does) and returns hashtags too
(``suggest_tags``), so it does strictly more work than ``jieba.analyse.extract_tags``.
Goal: project / jieba >= 0.8.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CANDIDATES = [
    ROOT / "demo" / "kuairec" / "kuairec_caption_category.csv",
    ROOT.parent / "shared" / "data" / "kuairec" / "kuairec_caption_category.csv",
]


def load_captions(path: Path, limit: int | None) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        captions = [row["caption"] for row in csv.DictReader(handle) if row.get("caption", "").strip()]
    return captions[:limit] if limit else captions


def timed(fn, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        fn(text)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=None, help="KuaiRec kuairec_caption_category.csv")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args(argv)
    path = args.csv or next((p for p in CANDIDATES if p.is_file()), None)
    if path is None or not path.is_file():
        print("skipped: KuaiRec captions not found (looked in demo/kuairec/ and ../shared/data/kuairec/)")
        return 0

    import jieba
    import jieba.analyse

    from tagging.extraction import KeywordExtractor, learn_idf

    jieba.setLogLevel(60)
    texts = load_captions(path, args.limit)
    k = args.k
    extractor = KeywordExtractor(idf=learn_idf(texts))

    def ours(text: str) -> None:
        extractor.suggest_tags(text=text, k=k)

    def bare(text: str) -> None:
        jieba.analyse.extract_tags(text, topK=k)

    for fn in (ours, bare):  # warm-up: dictionaries, caches, the HMM model
        timed(fn, texts[:200])
    ours_s, bare_s = [], []
    for _ in range(args.repeats):
        bare_s.append(timed(bare, texts))
        ours_s.append(timed(ours, texts))
    ours_rate = len(texts) / statistics.median(ours_s)
    bare_rate = len(texts) / statistics.median(bare_s)
    print(f"captions: {len(texts)} from {path}")
    print(f"repeats: {args.repeats} (median)")
    print(f"project extractor (suggest_tags, k={k}): {ours_rate:,.0f} docs/s")
    print(f"jieba.analyse.extract_tags (topK={k}):   {bare_rate:,.0f} docs/s")
    print(f"ratio project / jieba: {ours_rate / bare_rate:.2f} (goal >= 0.80)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
