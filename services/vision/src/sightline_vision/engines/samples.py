"""Photos with known content, for the engines' tests and the benchmark:
signs rendered with Debian's Noto CJK fonts (fonts-noto-cjk) and codes
rendered by zxing-cpp. Nothing here runs in the service."""

from __future__ import annotations

import functools
import io
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from sightline_vision.engines import Box

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
NOTO_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJK-Bold.ttc", "NotoSerifCJK-Regular.ttc", "NotoSerifCJK-Bold.ttc")

# Chinese signs a traveller meets, with what they say.
CHINESE_SIGNS = (
    "出口",
    "禁止吸烟",
    "收银台",
    "入口",
    "洗手间",
    "小心地滑",
    "地铁站",
    "请勿触摸",
    "安全出口",
    "营业时间",
    "免费无线网络",
    "牛肉面",
    "火车站",
    "欢迎光临",
)
# Lines of a menu: dishes and their prices.
MENU_LINES = (
    "宫保鸡丁 ¥38",
    "麻婆豆腐 ¥26",
    "鱼香肉丝 ¥32",
    "小笼包 ¥18",
    "酸辣汤 ¥12",
    "担担面 ¥22",
    "北京烤鸭 ¥128",
    "蛋炒饭 ¥15",
    "馄饨 ¥16",
    "豆浆油条 ¥9",
)
# Signs in Hong Kong and Taiwan, in traditional characters.
TRADITIONAL_SIGNS = ("營業時間", "請勿吸煙", "歡迎光臨", "洗手間", "收銀台", "鐵路車站", "牛肉麵", "緊急出口")
ENGLISH_SIGNS = ("EXIT", "No Smoking", "Cashier", "Platform 3", "Pharmacy", "Open 24 Hours")


@dataclass(frozen=True)
class Face:
    """One face of a .ttc collection."""

    path: Path
    index: int
    name: str

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(str(self.path), size, index=self.index)


@functools.cache
def chinese_faces(region: str = "SC") -> tuple[Face, ...]:
    """The Chinese face of every Noto CJK collection installed: "SC"
    (simplified), "TC" (traditional, Taiwan) or "HK"."""
    faces = []
    for file in NOTO_FILES:
        path = NOTO_DIR / file
        if not path.is_file():
            continue
        for index in range(16):
            try:
                family, style = ImageFont.truetype(str(path), 12, index=index).getname()
            except OSError:
                break
            if family and family.endswith(f" {region}"):
                faces.append(Face(path, index, f"{family} {style}"))
    if not faces:
        raise RuntimeError(f"no Noto CJK {region} face in {NOTO_DIR}: install Debian's fonts-noto-cjk")
    return tuple(faces)


@dataclass(frozen=True)
class Sign:
    image: Image.Image
    text: str
    # Where the text is, normalised (before any rotation of the whole sign).
    box: Box


def render_sign(
    text: str,
    face: Face,
    *,
    size: int = 64,
    ink: tuple[int, int, int] = (255, 255, 255),
    paper: tuple[int, int, int] = (20, 110, 60),
    angle: float = 0.0,
    noise: float = 0.0,
    blur: float = 0.0,
    margin: float = 0.6,
    seed: int = 0,
) -> Sign:
    """text on a plain sign, optionally rotated (degrees), noisy (sigma of
    Gaussian noise in grey levels) and blurred (Gaussian radius in px)."""
    font = face.font(size)
    left, top, right, bottom = font.getbbox(text)
    pad = round(size * margin)
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    image = Image.new("RGB", (width, height), paper)
    ImageDraw.Draw(image).text((pad - left, pad - top), text, font=font, fill=ink)
    box = (pad / width, pad / height, (right - left) / width, (bottom - top) / height)
    if angle:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=paper)
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, noise, (image.height, image.width, 1))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return Sign(image, text, box)


def chinese_sign_set(count: int | None = None, *, seed: int = 7, texts: tuple[str, ...] = CHINESE_SIGNS, region: str = "SC") -> list[Sign]:
    """Every Chinese sign in several faces, sizes, colours, rotations (up to
    10 degrees), noise and blur: deterministic for a seed."""
    rng = random.Random(seed)  # noqa: S311 - test imagery, not secrets
    faces = chinese_faces(region)
    palettes = (
        ((255, 255, 255), (20, 110, 60)),  # exit green
        ((255, 255, 255), (200, 30, 30)),  # prohibition red
        ((20, 20, 20), (250, 205, 40)),  # caution yellow
        ((255, 255, 255), (20, 60, 150)),  # information blue
        ((30, 30, 30), (235, 235, 230)),  # black on white
    )
    signs = []
    texts = texts if count is None else (texts * (count // len(texts) + 1))[:count]
    for i, text in enumerate(texts):
        ink, paper = palettes[i % len(palettes)]
        signs.append(
            render_sign(
                text,
                faces[i % len(faces)],
                size=rng.choice((40, 56, 72, 96)),
                ink=ink,
                paper=paper,
                angle=rng.uniform(-10.0, 10.0),
                noise=rng.uniform(0.0, 12.0),
                blur=rng.uniform(0.0, 1.2),
                seed=i,
            )
        )
    return signs


def place(background: Image.Image | np.ndarray, item: Image.Image, at: tuple[float, float]) -> tuple[Image.Image, Box]:
    """background with item pasted at normalised (x, y), and item's box."""
    if isinstance(background, np.ndarray):
        background = Image.fromarray(background)
    out = background.convert("RGB").copy()
    x, y = round(at[0] * out.width), round(at[1] * out.height)
    if x + item.width > out.width or y + item.height > out.height:
        raise ValueError(f"a {item.width}x{item.height} item does not fit at {x},{y} in {out.width}x{out.height}")
    out.paste(item, (x, y))
    return out, (x / out.width, y / out.height, item.width / out.width, item.height / out.height)


def street_scene(size: tuple[int, int] = (1280, 960), *, seed: int = 3) -> Image.Image:
    """A background that is not flat: a vertical gradient with noise and soft blobs."""
    rng = np.random.default_rng(seed)
    width, height = size
    gradient = np.linspace(60, 180, height, dtype=np.float32)[:, None, None]
    tint = np.array([0.9, 1.0, 1.1], dtype=np.float32)[None, None, :]
    pixels = gradient * tint + rng.normal(0, 6, (height, width, 1))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        cx, cy, r = rng.integers(0, width), rng.integers(0, height), rng.integers(20, 120)
        shade = tuple(int(v) for v in rng.integers(40, 200, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=shade)
    return image.filter(ImageFilter.GaussianBlur(3))


def sign_photo(
    texts: tuple[str, ...] = ("出口", "禁止吸烟", "收银台", "EXIT"), size: tuple[int, int] = (1280, 960)
) -> tuple[Image.Image, list[tuple[str, Box]]]:
    """A size photo of a scene with a few signs on it, and where each is."""
    image = street_scene(size)
    faces = chinese_faces()
    spots = ((0.06, 0.08), (0.55, 0.12), (0.08, 0.55), (0.58, 0.6), (0.3, 0.35), (0.3, 0.8))
    papers = ((20, 110, 60), (200, 30, 30), (20, 60, 150))
    placed = []
    for i, text in enumerate(texts):
        sign = render_sign(text, faces[i % len(faces)], size=round(72 * size[0] / 1280), paper=papers[i % 3])
        image, box = place(image, sign.image, spots[i % len(spots)])
        text_box = (box[0] + sign.box[0] * box[2], box[1] + sign.box[1] * box[3], sign.box[2] * box[2], sign.box[3] * box[3])
        placed.append((text, text_box))
    return image, placed


def render_code(fmt: str, text: str, *, module_px: int = 4) -> Image.Image:
    """A barcode or QR code drawn by zxing-cpp ("EAN13", "Code128", "QRCode", ...), with a quiet zone."""
    import zxingcpp  # noqa: PLC0415

    barcode = zxingcpp.create_barcode(text, getattr(zxingcpp.BarcodeFormat, fmt))
    image = barcode.to_image(scale=module_px, add_quiet_zones=True)
    return Image.fromarray(np.asarray(image)).convert("RGB")


def jpeg_bytes(image: Image.Image | np.ndarray, *, quality: int = 92, exif: bytes = b"") -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def png_bytes(image: Image.Image | np.ndarray) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def read_text(found: list) -> str:
    """What an OCR result says, regions in reading order (top to bottom, then left to right)."""
    ordered = sorted(found, key=lambda f: (round((f.box[1] + f.box[3] / 2) * 20), f.box[0]))
    return "".join(f.text for f in ordered)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other)))
        previous = current
    return previous[-1]


def character_error_rate(references: list[str], hypotheses: list[str], *, ignore_case: bool = False) -> float:
    """Edits over reference characters for the whole set. Whitespace is
    ignored (the engines differ in the spaces they emit) and width too (NFKC:
    a fullwidth "￥" is the "¥" it reads)."""

    def norm(text: str) -> str:
        text = "".join(unicodedata.normalize("NFKC", text).split())
        return text.upper() if ignore_case else text

    pairs = [(norm(r), norm(h)) for r, h in zip(references, hypotheses, strict=True)]
    total = sum(len(r) for r, _ in pairs)
    if total == 0:
        raise ValueError("the references are empty")
    return sum(edit_distance(r, h) for r, h in pairs) / total
