""" "What is this", answered from what vision read in the photo: its tags,
its text and its codes. Pure: the handlers keep the photo's gist in the
shared state and call `describe`."""

from __future__ import annotations

from dataclasses import dataclass

from sightline.v1.vision_pb2 import VisionResult

from sightline_assistant.domain.phrases import say

# ImageNet class names come as "espresso, coffee": the first is the name.
MIN_TAG_SCORE = 0.15
# The card when the photo asked for never came (no camera, privacy mode, the link
# or vision down). Here rather than in domain.phrases, which another change owns.
NO_PHOTO_TITLE = {"en": "No photo to look at", "zh": "没有收到照片"}
NO_PHOTO_BODY = {"en": "The glasses sent no photo within {seconds:g} s", "zh": "眼镜在 {seconds:g} 秒内没有发送照片"}


@dataclass(frozen=True)
class PhotoGist:
    photo_id: str
    tags: tuple[tuple[str, float], ...]
    texts: tuple[str, ...]
    codes: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"photo_id": self.photo_id, "tags": [list(t) for t in self.tags], "texts": list(self.texts), "codes": list(self.codes)}

    @classmethod
    def from_json(cls, value: dict[str, object]) -> PhotoGist:
        return cls(
            photo_id=str(value.get("photo_id", "")),
            tags=tuple((str(name), float(score)) for name, score in value.get("tags", [])),  # type: ignore[union-attr]
            texts=tuple(str(t) for t in value.get("texts", [])),  # type: ignore[union-attr]
            codes=tuple(str(c) for c in value.get("codes", [])),  # type: ignore[union-attr]
        )


def gist(result: VisionResult, *, max_tags: int = 3, max_texts: int = 4) -> PhotoGist:
    tags = sorted(((t.label, t.score) for t in result.tags if t.score >= MIN_TAG_SCORE), key=lambda t: -t[1])[:max_tags]
    # Biggest text first: the sign, not the small print.
    regions = sorted(result.text_regions, key=lambda r: -(r.box.width * r.box.height))
    texts = tuple(r.text.strip() for r in regions if r.text.strip())[:max_texts]
    codes = tuple(f"{c.format} {c.text}" for c in result.codes)[:3]
    return PhotoGist(result.photo_id, tuple((name.split(",")[0].strip(), score) for name, score in tags), texts, codes)


def describe(photo: PhotoGist, language: str) -> tuple[str, str, list[str]] | None:
    """(title, body, items) for the answer card; None when nothing was recognised."""
    if not (photo.tags or photo.texts or photo.codes):
        return None
    items: list[str] = []
    if photo.texts:
        items.append("“" + " / ".join(photo.texts) + "”")
    items.extend(photo.codes)
    if photo.tags:
        best, score = photo.tags[0]
        others = ", ".join(name for name, _ in photo.tags[1:])
        body = f"{best} ({score:.0%})" + (f"; or {others}" if others else "")
        return say("what_is_this", language), body, items
    return say("what_is_this", language), items[0], items[1:]


def no_photo(language: str, waited_s: float) -> tuple[str, str]:
    """(title, body) of the card saying the photo never came."""
    lang = "zh" if language.lower().startswith("zh") else "en"
    return NO_PHOTO_TITLE[lang], NO_PHOTO_BODY[lang].format(seconds=waited_s)


def context_for_llm(photo: PhotoGist) -> str:
    """What the LLM is told about the photo (never the image itself)."""
    parts = []
    if photo.tags:
        parts.append("objects: " + ", ".join(f"{n} ({s:.0%})" for n, s in photo.tags))
    if photo.texts:
        parts.append("text: " + " | ".join(photo.texts))
    if photo.codes:
        parts.append("codes: " + ", ".join(photo.codes))
    return "; ".join(parts)
