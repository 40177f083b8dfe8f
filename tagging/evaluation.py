"""Keyword-extraction quality against author keywords (pure: no Django import).

Reads a TSV in the CSL keyword-generation format (``prefix<TAB>text<TAB>kw1_kw2_...``, no header,
no quoting), extracts the top-k keywords of every text with the project's extractor and with
bare ``jieba.analyse.extract_tags``, and prints micro-averaged precision, recall and F1 at k
(exact match after :func:`tagging.extraction.normalize_tag`) as JSON.

    python -m tagging.evaluation --tsv ../shared/data/csl/kg_dev.tsv --k 5 [--ablation]
    python manage.py evaluate_keywords --tsv ../shared/data/csl/kg_dev.tsv --k 5

The IDF is learnt from the file's own texts (as the site learns it from its own corpus) unless
``--builtin-idf`` is given. The gold keywords are never seen by the extractor.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tagging.extraction import ExtractionConfig, KeywordExtractor, learn_idf, normalize_tag


@dataclass(frozen=True)
class Example:
    text: str
    gold: frozenset[str]


def read_tsv(path: str | Path, *, limit: int | None = None) -> list[Example]:
    """Read ``prefix<TAB>text<TAB>kw1_kw2...`` rows; gold keywords are normalised, empty ones dropped."""
    examples: list[Example] = []
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 3:
                continue
            gold = frozenset(g for g in (normalize_tag(x) for x in row[2].split("_")) if g)
            if gold:
                examples.append(Example(text=row[1], gold=gold))
            if limit is not None and len(examples) >= limit:
                break
    return examples


def precision_recall_f1(
    predictions: Sequence[Sequence[str]], golds: Sequence[frozenset[str]]
) -> dict[str, float]:
    """Micro-averaged precision / recall / F1 of predicted keyword lists against gold sets.

    Predictions are normalised and de-duplicated before matching; precision divides by the
    number of keywords actually predicted (a text may yield fewer than k).
    """
    hits = predicted = relevant = 0
    for pred, gold in zip(predictions, golds, strict=True):
        pred_set = {p for p in (normalize_tag(x) for x in pred) if p}
        hits += len(pred_set & gold)
        predicted += len(pred_set)
        relevant += len(gold)
    precision = hits / predicted if predicted else 0.0
    recall = hits / relevant if relevant else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _score(name: str, predict: Callable[[str], list[str]], examples: Sequence[Example]) -> dict:
    started = time.perf_counter()
    predictions = [predict(ex.text) for ex in examples]
    seconds = time.perf_counter() - started
    result = {"name": name, **precision_recall_f1(predictions, [ex.gold for ex in examples])}
    result["seconds"] = round(seconds, 3)
    return result


def jieba_baseline(*, k: int) -> Callable[[str], list[str]]:
    """Bare ``jieba.analyse.extract_tags`` (jieba's built-in IDF, no stop words, no POS)."""
    import jieba.analyse

    return lambda text: jieba.analyse.extract_tags(text, topK=k)


def project_extractor(
    texts: Sequence[str], *, k: int, config: ExtractionConfig | None = None, learn: bool = True
) -> Callable[[str], list[str]]:
    """The project's extractor, its IDF learnt from ``texts`` unless ``learn`` is false."""
    extractor = KeywordExtractor(config=config)
    if learn:
        extractor = KeywordExtractor(config=config, idf=learn_idf(texts, extractor=extractor))
    return lambda text: [word for word, _ in extractor.extract(text=text, k=k)]


# Cumulative steps from a plain TF-IDF over the normalised text to the default extractor; each
# row adds one step to the previous one. (name, config, learn IDF from the file's texts)
ABLATION_STEPS: list[tuple[str, ExtractionConfig, bool]] = [
    (
        "normalisation + stop words, jieba IDF",
        ExtractionConfig(pos_filter=False, compounds=False, drop_nested=False),
        False,
    ),
    (
        "+ IDF learnt from the texts",
        ExtractionConfig(pos_filter=False, compounds=False, drop_nested=False),
        True,
    ),
    ("+ part-of-speech filter", ExtractionConfig(compounds=False, drop_nested=False), True),
    (
        "+ compound keywords (repeated noun runs)",
        ExtractionConfig(drop_nested=False, compound_end_extra_pos=()),
        True,
    ),
    ("+ drop words never seen outside a compound", ExtractionConfig(compound_end_extra_pos=()), True),
    ("+ compounds may end on a verb (default)", ExtractionConfig(), True),
]
# Variations of the default, each measured on its own (not part of the default).
VARIANTS: list[tuple[str, ExtractionConfig]] = [
    ("default without part-of-speech filter", ExtractionConfig(pos_filter=False)),
    ("default + first and last sentence x2", ExtractionConfig(edge_sentence_weight=2.0)),
    ("default, compounds kept even if they occur once", ExtractionConfig(min_compound_repeats=1)),
    ("default, compound IDF = mean of its words", ExtractionConfig(compound_idf="mean")),
    ("default, compounds of at most 3 words", ExtractionConfig(max_compound_words=3)),
]


def evaluate(examples: Sequence[Example], *, k: int, learn: bool = True, ablation: bool = False) -> dict:
    """Precision / recall / F1 at k of the project's extractor and of bare jieba (and the steps)."""
    texts = [ex.text for ex in examples]
    result: dict = {
        "k": k,
        "documents": len(examples),
        "idf": "learnt from the file's texts" if learn else "jieba",
    }
    result["extractor"] = _score("project extractor", project_extractor(texts, k=k, learn=learn), examples)
    result["jieba_extract_tags"] = _score("jieba.analyse.extract_tags", jieba_baseline(k=k), examples)
    if ablation:
        result["steps"] = [
            _score(name, project_extractor(texts, k=k, config=config, learn=step_learn), examples)
            for name, config, step_learn in ABLATION_STEPS
        ]
        result["variants"] = [
            _score(name, project_extractor(texts, k=k, config=config, learn=learn), examples)
            for name, config in VARIANTS
        ]
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options, shared with ``manage.py evaluate_keywords``."""
    parser.add_argument("--tsv", required=True, help="prefix<TAB>text<TAB>kw1_kw2... (CSL format)")
    parser.add_argument("--k", type=int, default=5, help="keywords per text (default 5)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N rows")
    parser.add_argument("--builtin-idf", action="store_true", help="use jieba's IDF instead of learning one")
    parser.add_argument("--ablation", action="store_true", help="also measure each extraction step")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evaluate_keywords", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    out = out or sys.stdout
    if args.k <= 0:
        parser.error("--k must be positive")
    path = Path(args.tsv)
    if not path.is_file():
        parser.error(f"no such file: {path}")
    examples = read_tsv(path, limit=args.limit)
    if not examples:
        parser.error(f"no rows with keywords in {path}")
    result = evaluate(examples, k=args.k, learn=not args.builtin_idf, ablation=args.ablation)
    out.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
