"""Keyword and hashtag extraction from titles, descriptions and comments (pure: no Django import).

The pipeline, each step measured in ``docs/keywords.md``:

1. normalise: NFKC (full-width -> half-width), lower case; URLs, e-mail addresses, @mentions and
   emoji are removed; hashtags (``#话题`` and ``#话题#``) are taken out as explicit tags.
2. segment with a private ``jieba.Tokenizer`` whose dictionary includes the keyword library's
   user words (one tokenizer per library version, built from a per-process base dictionary).
3. candidates: single words whose dictionary part of speech is noun-like, and compound
   keywords (runs of adjacent noun-like words) that repeat in the text or were seen in the
   corpus the IDF was learnt from.
4. score: position-weighted term frequency x IDF (corpus IDF, jieba's built-in IDF for words the
   corpus has not seen), title occurrences weighted up, words that never occur outside a compound dropped.

Everything here is deterministic and thread-safe once built; ``extract`` never raises on text.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba

__all__ = [
    "ExtractionConfig",
    "IdfTable",
    "KeywordExtractor",
    "KeywordLibrary",
    "default_stop_words",
    "learn_idf",
    "normalize_tag",
    "normalize_text",
    "split_hashtags",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
STOP_WORDS_FILE = DATA_DIR / "stopwords_zh.txt"

# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

# Emoji and pictographs (plus the joiners / variation selectors / tag characters that glue them).
_EMOJI_CLASS = (
    "\U0001f000-\U0001faff"
    "\u2600-\u27bf"
    "\u2b00-\u2bff"
    "\u2190-\u21ff"
    "\u2300-\u23ff"
    "\u25a0-\u25ff"
    "\ufe00-\ufe0f"
    "\u200b-\u200f"
    "\u20e3"
    "\ue000-\uf8ff"
    "\U000e0000-\U000e007f"
)
_EMOJI_RE = re.compile(f"[{_EMOJI_CLASS}]+")
_URL_RE = re.compile(
    r"(?:https?://|ftp://|www\.)[^\s\u3000-\u303f\uff00-\uffef<>\"'，。！？、；：“”‘’（）【】《》]+"
)
_EMAIL_RE = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}")
# Characters that end a mention or a hashtag besides whitespace.
_TAG_STOP = r"\s#@,.;:!?'\"()\[\]{}<>，。；：！？、“”‘’（）【】《》「」『』…~|/\\"
# A mention runs to the next whitespace / punctuation; Kuaishou-style ids in parentheses follow it.
_MENTION_RE = re.compile(rf"(?<![a-z0-9_.\-])@[^{_TAG_STOP}]{{1,40}}(?:\([a-z0-9_\-]{{1,30}}\))?")
# ``#话题#`` (Weibo) and ``#话题`` (Douyin / Kuaishou); the closing ``#`` is optional.
_HASHTAG_RE = re.compile(rf"#([^{_TAG_STOP}]{{1,40}})#?")
_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_TAG_STRIP = " \t\r\n#＃@'\"“”‘’「」『』【】《》()（）[]<>.,;:!?，。；：！？、…~-_|/\\"


def _nfkc_lower(value: str) -> str:
    return unicodedata.normalize("NFKC", value).lower()


def normalize_text(text: str) -> str:
    """Full-width -> half-width, compatibility forms folded (NFKC), Latin lower-cased.

    Control characters and lone surrogates become spaces, so the result is always valid text.
    """
    return _CONTROL_RE.sub(" ", _nfkc_lower(text))


def normalize_tag(tag: str) -> str:
    """The canonical written form of a tag: NFKC, lower case, no emoji, no surrounding ``#``,
    quotes or punctuation, inner whitespace collapsed to one space.

    Idempotent: ``normalize_tag(normalize_tag(s)) == normalize_tag(s)`` for every string.
    Returns ``""`` when nothing tag-like is left.
    """
    value = tag
    # NFKC / lower-casing can each expose work for the other (rare, e.g. some Greek and
    # Cherokee letters), so iterate to the fixed point; two or three rounds always suffice.
    for _ in range(8):
        new = _CONTROL_RE.sub(" ", _nfkc_lower(value))
        new = _EMOJI_RE.sub("", new)
        new = _SPACE_RE.sub(" ", new).strip(_TAG_STRIP)
        if new == value:
            break
        value = new
    return value


def split_hashtags(text: str) -> tuple[list[str], str]:
    """Return (hashtags, remaining text) for already normalised text.

    Hashtags are normalised, de-duplicated in order of appearance; purely numeric ones
    (``#1``) are dropped. URLs, e-mail addresses, mentions and emoji are removed from the
    remaining text (replaced by a space so that words on either side stay apart).
    """
    text = _URL_RE.sub(" ", text)
    text = _EMAIL_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    tags: list[str] = []
    if "#" in text:
        for match in _HASHTAG_RE.finditer(text):
            tag = normalize_tag(match.group(1))
            if tag and not tag.isdigit() and tag not in tags:
                tags.append(tag)
        text = _HASHTAG_RE.sub(" ", text).replace("#", " ")
    text = _EMOJI_RE.sub(" ", text)
    return tags, text


# ---------------------------------------------------------------------------------------------
# Keyword library and IDF table
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def default_stop_words() -> frozenset[str]:
    """The stop-word list shipped in ``tagging/data/stopwords_zh.txt`` (normalised)."""
    words = set()
    for line in STOP_WORDS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(normalize_tag(line))
    words.discard("")
    return frozenset(words)


@dataclass(frozen=True)
class KeywordLibrary:
    """A snapshot of the keyword library (关键词库).

    ``user_words`` are kept whole by the segmenter; ``stop_words`` are added to the shipped list
    and never returned; ``synonyms`` maps a word to its canonical word (applied after
    segmentation, chains are followed); ``blocked`` words are never returned, whatever their
    score. ``version`` identifies the snapshot: extractors built from the same version share
    one tokenizer, a new version builds a new one (so an edit takes effect without a restart).
    All words are normalised with :func:`normalize_tag` on construction.
    """

    version: str = "0"
    user_words: frozenset[str] = frozenset()
    stop_words: frozenset[str] = frozenset()
    synonyms: Mapping[str, str] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()
    use_default_stop_words: bool = True

    def __post_init__(self) -> None:
        def clean(words: Iterable[str]) -> frozenset[str]:
            return frozenset(w for w in (normalize_tag(x) for x in words) if w)

        set_ = object.__setattr__
        set_(self, "user_words", clean(self.user_words))
        stops = clean(self.stop_words)
        if self.use_default_stop_words:
            stops |= default_stop_words()
        set_(self, "stop_words", stops)
        set_(self, "blocked", clean(self.blocked))
        synonyms: dict[str, str] = {}
        for word, canonical in dict(self.synonyms).items():
            word, canonical = normalize_tag(word), normalize_tag(canonical)
            if word and canonical and word != canonical:
                synonyms[word] = canonical
        set_(self, "synonyms", synonyms)

    def canonical(self, word: str) -> str:
        """Follow the synonym chain from an already normalised word (cycles stop)."""
        seen = {word}
        while word in self.synonyms:
            word = self.synonyms[word]
            if word in seen:
                break
            seen.add(word)
        return word

    def tokenizer_key(self) -> tuple[str, int]:
        return self.version, hash(self.user_words)


@dataclass(frozen=True)
class IdfTable:
    """Inverse document frequencies learnt from a corpus (see :func:`learn_idf`).

    ``idf`` holds words and compound keywords seen in the corpus; ``doc_count`` is the corpus
    size. Words the corpus has not seen fall back to jieba's built-in IDF (shifted onto this
    table's scale, see :meth:`get`), then to ``default_idf``.
    Serialise with :meth:`to_json` / :meth:`from_json` to store it (e.g. in the database).
    """

    idf: Mapping[str, float]
    doc_count: int
    default_idf: float

    def get(self, word: str) -> float:
        value = self.idf.get(word)
        if value is not None:
            return value
        return self.unseen_idf(word)

    def unseen_idf(self, word: str) -> float:
        """IDF of a word the corpus has not seen (or saw once: such entries are not stored).

        Such a word is about as rare in the site as a word seen once (``default_idf``); jieba's
        built-in IDF, relative to its median, orders them, so that an unseen common word
        ("模型") stays below an unseen rare term. Multiplicative so the result stays positive
        on any corpus size.
        """
        builtin_idf, builtin_median = _builtin_idf()
        return self.default_idf * builtin_idf.get(word, builtin_median) / builtin_median

    def to_json(self) -> str:
        return json.dumps(
            {"doc_count": self.doc_count, "default_idf": self.default_idf, "idf": dict(self.idf)},
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, data: str) -> IdfTable:
        raw = json.loads(data)
        return cls(
            idf={str(k): float(v) for k, v in raw["idf"].items()},
            doc_count=int(raw["doc_count"]),
            default_idf=float(raw["default_idf"]),
        )


@lru_cache(maxsize=1)
def _builtin_idf() -> tuple[dict[str, float], float]:
    """jieba's built-in IDF table (idf.txt, shipped in the jieba wheel) and its median."""
    import jieba.analyse  # noqa: PLC0415 - loads idf.txt (~0.3 s); only when needed

    return jieba.analyse.default_tfidf.idf_freq, jieba.analyse.default_tfidf.median_idf


class BuiltinIdf(IdfTable):
    """jieba's own IDF table, for extraction before any corpus has been learnt."""

    def __init__(self) -> None:
        table, median = _builtin_idf()
        super().__init__(idf=table, doc_count=0, default_idf=median)

    def unseen_idf(self, word: str) -> float:
        return self.default_idf


# ---------------------------------------------------------------------------------------------
# Tokenizers (one base dictionary per process, one tokenizer per library version)
# ---------------------------------------------------------------------------------------------

_TOKENIZER_LOCK = threading.Lock()
_TOKENIZERS: OrderedDict[tuple[str, int], jieba.Tokenizer] = OrderedDict()
_TOKENIZER_CACHE_SIZE = 4


@lru_cache(maxsize=1)
def _base_tokenizer() -> jieba.Tokenizer:
    """A private jieba tokenizer on the default dictionary, loaded once per process (~1 s)."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@lru_cache(maxsize=1)
def _dictionary_pos() -> dict[str, str]:
    """Part of speech of every word in jieba's default dictionary (dict.txt: word freq tag).

    Looking tags up after ``Tokenizer.cut`` costs a dict lookup per word, where
    ``jieba.posseg`` would re-segment with a slower HMM and roughly triple the time.
    """
    tags: dict[str, str] = {}
    with _base_tokenizer().get_dict_file() as handle:
        for raw in handle:
            parts = raw.decode("utf-8").split()
            if len(parts) >= 3:
                tags[parts[0]] = parts[2]
    return tags


def _tokenizer_for(library: KeywordLibrary) -> jieba.Tokenizer:
    """The tokenizer for this library version: the base one, or a copy with the user words.

    The copy shares nothing mutable with the base or with jieba's global tokenizer, so adding
    words never leaks between versions; copying the prefix dictionary costs ~50 ms, not a reload.
    """
    if not library.user_words:
        return _base_tokenizer()
    key = library.tokenizer_key()
    with _TOKENIZER_LOCK:
        tokenizer = _TOKENIZERS.get(key)
        if tokenizer is not None:
            _TOKENIZERS.move_to_end(key)
            return tokenizer
        base = _base_tokenizer()
        tokenizer = jieba.Tokenizer()
        tokenizer.FREQ = dict(base.FREQ)
        tokenizer.total = base.total
        tokenizer.initialized = True
        for word in sorted(library.user_words):
            # freq is always >= 1 here: freq=0 would touch jieba's module-global force-split set.
            tokenizer.add_word(word, freq=max(tokenizer.suggest_freq(word, False), 1))
        _TOKENIZERS[key] = tokenizer
        while len(_TOKENIZERS) > _TOKENIZER_CACHE_SIZE:
            _TOKENIZERS.popitem(last=False)
        return tokenizer


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------

# Dictionary tags of words that can be keywords on their own (nouns, verbal / adjectival nouns,
# names, idioms, abbreviations); "eng" and "new" are assigned below to Latin words and to words
# the HMM found outside the dictionary (mostly names and domain terms).
KEYWORD_POS = frozenset(
    {"n", "nr", "nrt", "nrfg", "ns", "nt", "nz", "ng", "nw", "vn", "an", "l", "j", "i", "eng", "new", "user"}
)
# Tags that may join a compound keyword (adds adjectives, distinguishing words and verbs
# so that "非线性控制", "大角度机动", "补肾活血汤" stay together).
COMPOUND_POS = KEYWORD_POS | frozenset({"a", "b", "v", "vd", "d", "m", "q", "f", "s", "t", "x"})
_LATIN_RE = re.compile(r"^[a-z0-9][a-z0-9+#&._%\-]*$")
_LETTERS_RE = re.compile(r"[a-z]")
_HAS_CJK_OR_LATIN = re.compile(r"[a-z\u4e00-\u9fff\u3400-\u4dbf]")
# A sentence ends at CJK / exclamation / question punctuation, a newline, or a full stop that is
# not a decimal point or part of an abbreviation ("7.0", "e.g").
_SENTENCE_END_RE = re.compile(r"[。！？!?；;\n]+|\.(?![0-9a-z])")


@dataclass(frozen=True)
class ExtractionConfig:
    """Switches and weights of the extraction steps (defaults = the measured best).

    Every switch exists so that the evaluation can measure its contribution; the weights are
    generic (not fitted to a benchmark file).
    """

    pos_filter: bool = True  # keep only noun-like words as single-word keywords
    compounds: bool = True  # merge adjacent noun-like words into compound keywords
    max_compound_words: int = 4
    max_compound_chars: int = 12
    min_compound_repeats: int = 2  # times a compound must occur in the text (or be in the IDF table)
    title_weight: float = 3.0  # an occurrence in the title counts this many times
    edge_sentences: str = "both"  # which sentences of the text are weighted: first, last, both
    edge_sentence_weight: float = 1.0  # Edmundson's location rule: opening / closing sentences
    min_word_chars: int = 2  # one-character Chinese words are too ambiguous to be tags
    compound_idf: str = "max"
    # Besides noun-like tags, a compound may end on a verb: "深度学习", "数值模拟", "快速测定".
    compound_end_extra_pos: tuple[str, ...] = ("v",)
    drop_nested: bool = True  # drop a candidate that only ever occurs inside a longer compound


@dataclass
class _Doc:
    counts: Counter = field(default_factory=Counter)
    compounds: Counter = field(default_factory=Counter)
    parts: dict = field(default_factory=dict)


class KeywordExtractor:
    """TF-IDF keyword extraction with the keyword library as user dictionary.

    Build one per (library version, IDF table) and reuse it; it is thread-safe and holds no
    per-call state. ``extract`` never raises on any text.
    """

    def __init__(
        self,
        *,
        library: KeywordLibrary | None = None,
        idf: IdfTable | None = None,
        config: ExtractionConfig | None = None,
    ) -> None:
        self.library = library or KeywordLibrary()
        self.idf = idf or BuiltinIdf()
        self.config = config or ExtractionConfig()
        self._tokenizer = _tokenizer_for(self.library)
        self._pos = _dictionary_pos()
        self._user_words = self.library.user_words
        self._stop = self.library.stop_words
        self._blocked = self.library.blocked
        self._compound_end_pos = KEYWORD_POS | frozenset(self.config.compound_end_extra_pos)

    # -- public API ------------------------------------------------------------------------

    def hashtags(self, text: str) -> list[str]:
        """Hashtags of a text, normalised, canonicalised by the synonyms, blocked ones removed."""
        try:
            tags, _ = split_hashtags(normalize_text(text or ""))
        except Exception:  # noqa: BLE001 - extraction never raises on user text
            return []
        out: list[str] = []
        for tag in tags:
            tag = self.library.canonical(tag)
            if tag not in self._blocked and tag not in out:
                out.append(tag)
        return out

    def extract(self, *, text: str = "", title: str = "", k: int = 5) -> list[tuple[str, float]]:
        """Top-``k`` keywords of a title and a text as ``(keyword, score)``, best first.

        Scores are relative (the best keyword scores 1.0). Hashtags are not keyword material
        (see :meth:`hashtags`). Returns ``[]`` for empty text and never raises.
        """
        if k <= 0:
            return []
        try:
            return self._extract(text=text or "", title=title or "", k=k)
        except Exception:  # noqa: BLE001 - never let odd user text break an upload or a comment
            return []

    def suggest_tags(self, *, text: str = "", title: str = "", k: int = 5) -> list[tuple[str, float]]:
        """Tags to suggest for a video: its hashtags first (score 1.0), then keywords."""
        suggestions: dict[str, float] = {}
        for tag in self.hashtags(title) + self.hashtags(text):
            suggestions.setdefault(tag, 1.0)
        for word, score in self.extract(text=text, title=title, k=k):
            suggestions.setdefault(word, score)
        return list(suggestions.items())[: max(k, 0)]

    def tokens(self, text: str) -> list[str]:
        """The normalised words of a text (hashtags, URLs, mentions, emoji removed)."""
        _, clean = split_hashtags(normalize_text(text))
        return [w for w in self._tokenizer.cut(clean) if w.strip()]

    def candidates(self, *, text: str, title: str = "") -> set[str]:
        """Every keyword candidate of a text (for learning an IDF table over candidates)."""
        doc = _Doc()
        self._collect(title, doc, weight=1.0, edge_weight=1.0)
        self._collect(text, doc, weight=1.0, edge_weight=1.0)
        return set(doc.counts) | set(doc.compounds)

    # -- internals ---------------------------------------------------------------------------

    def _tag(self, word: str) -> str:
        if word in self._user_words:
            return "user"
        tag = self._pos.get(word)
        if tag is not None:
            return tag
        if _LATIN_RE.match(word):
            # "5g", "mp4", "b": numbers and one-letter codes are not keywords on their own.
            return "eng" if len(_LETTERS_RE.findall(word)) >= 2 else "m"
        return "new"

    def _segments(self, clean: str, weight: float, edge_weight: float) -> list[tuple[str, float]]:
        """Split a text into (segment, weight): its first and last sentences weigh more."""
        if edge_weight == 1.0:
            return [(clean, weight)]
        ends = [m.end() for m in _SENTENCE_END_RE.finditer(clean) if clean[m.end() :].strip()]
        if not ends:
            return [(clean, weight)]
        first_end, last_start = ends[0], ends[-1]
        which = self.config.edge_sentences
        first_w = weight * edge_weight if which in ("first", "both") else weight
        last_w = weight * edge_weight if which in ("last", "both") else weight
        if first_end == last_start:
            return [(clean[:first_end], first_w), (clean[first_end:], last_w)]
        return [
            (clean[:first_end], first_w),
            (clean[first_end:last_start], weight),
            (clean[last_start:], last_w),
        ]

    def _collect(self, raw: str, doc: _Doc, *, weight: float, edge_weight: float) -> None:
        if not raw:
            return
        _, clean = split_hashtags(normalize_text(raw))
        cfg = self.config
        stop = self._stop
        keyword_pos = KEYWORD_POS if cfg.pos_filter else COMPOUND_POS
        counts = doc.counts
        for segment, w in self._segments(clean, weight, edge_weight):
            run: list[str] = []
            for word in self._tokenizer.cut(segment):
                tag = self._tag(word)
                is_content = tag in COMPOUND_POS and word not in stop and _HAS_CJK_OR_LATIN.search(word)
                if not is_content:
                    if len(run) > 1:
                        self._add_compounds(run, doc, w)
                    run = []
                    continue
                run.append(word)
                if tag in keyword_pos and (len(word) >= cfg.min_word_chars or tag in ("user", "eng")):
                    counts[word] += w
            if len(run) > 1:
                self._add_compounds(run, doc, w)

    def _add_compounds(self, run: list[str], doc: _Doc, w: float) -> None:
        cfg = self.config
        if not cfg.compounds:
            return
        n = len(run)
        for size in range(2, min(cfg.max_compound_words, n) + 1):
            for start in range(n - size + 1):
                words = run[start : start + size]
                # A compound ends on a noun-like word (or a verb, see the config): "控制器设计"
                # yes, "简化设计过程较快" no.
                if self._tag(words[-1]) not in self._compound_end_pos:
                    continue
                phrase = "".join(words)
                if len(phrase) > cfg.max_compound_chars:
                    continue
                doc.compounds[phrase] += w
                doc.parts.setdefault(phrase, words)

    def _canonical_ok(self, word: str) -> str | None:
        word = self.library.canonical(word)
        if word in self._stop or word in self._blocked:
            return None
        return word

    def _extract(self, *, text: str, title: str, k: int) -> list[tuple[str, float]]:
        cfg = self.config
        doc = _Doc()
        self._collect(title, doc, weight=cfg.title_weight, edge_weight=1.0)
        self._collect(text, doc, weight=1.0, edge_weight=cfg.edge_sentence_weight)
        idf = self.idf
        scores: dict[str, float] = {}
        for word, tf in doc.counts.items():
            scores[word] = tf * idf.get(word)
        never_alone: set[str] = set()
        compounds = doc.compounds
        for phrase, tf in compounds.items():
            known = phrase in idf.idf
            if tf < cfg.min_compound_repeats and not known:
                continue
            parts = doc.parts[phrase]
            if known:
                phrase_idf = idf.idf[phrase]
            elif cfg.compound_idf == "max":
                phrase_idf = max(idf.get(p) for p in parts)
            elif cfg.compound_idf == "mean":
                phrase_idf = sum(idf.get(p) for p in parts) / len(parts)
            else:
                phrase_idf = sum(idf.get(p) for p in parts)
            score = tf * phrase_idf
            scores[phrase] = max(scores.get(phrase, 0.0), score)
            if cfg.drop_nested:
                # A shorter candidate that never occurs outside this compound is not a keyword
                # of its own ("活血汤" inside every "补肾活血汤"): C-value's nested-term rule.
                n = len(parts)
                for size in range(1, n):
                    for start in range(n - size + 1):
                        sub = "".join(parts[start : start + size])
                        sub_tf = compounds.get(sub) if size > 1 else doc.counts.get(sub)
                        if sub_tf is not None and sub_tf <= tf + 1e-9:
                            never_alone.add(sub)
        for sub in never_alone:
            scores.pop(sub, None)
        merged: dict[str, float] = {}
        for word, score in scores.items():
            canonical = self._canonical_ok(word)
            if canonical is not None and score > 0:
                merged[canonical] = merged.get(canonical, 0.0) + score
        ranked = sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:k]
        if not ranked:
            return []
        top = ranked[0][1]
        return [(word, round(score / top, 6)) for word, score in ranked]


def learn_idf(
    texts: Iterable[str], *, extractor: KeywordExtractor | None = None, min_df: int = 1
) -> IdfTable:
    """Learn an IDF table from a corpus (the site's titles and descriptions).

    Document frequencies are counted over the extractor's candidates (single words and
    compound keywords), so that compounds recurring across the corpus are known candidates.
    ``idf = ln((N + 1) / (df + 1)) + 1`` (smoothed, always positive); entries with
    ``df < min_df`` are dropped to keep the stored table small. The table's ``default_idf``
    is the IDF of a word seen once, the floor for words the corpus has not seen.
    """
    extractor = extractor or KeywordExtractor()
    df: Counter = Counter()
    n_docs = 0
    for text in texts:
        n_docs += 1
        try:
            df.update(extractor.candidates(text=text or ""))
        except Exception:  # noqa: BLE001,S112 - one odd document must not stop the corpus job
            continue
    # Words seen in a single document get no entry: their IDF equals default_idf anyway
    # (see IdfTable.unseen_idf) and they are most of the table.
    idf = {
        word: math.log((n_docs + 1) / (count + 1)) + 1.0
        for word, count in df.items()
        if count >= max(min_df, 2)
    }
    default_idf = math.log((n_docs + 1) / 2) + 1.0
    return IdfTable(idf=idf, doc_count=n_docs, default_idf=default_idf)
