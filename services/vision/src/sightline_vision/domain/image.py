"""Photos as the engines see them: decoded safely, upright, RGB.

Nothing from the glasses is trusted. A photo is refused (ImageRefused) when
it is not a JPEG or PNG, when it is truncated or corrupt, and when its header
claims more pixels than allowed: the pixel count is read from the header and
checked BEFORE anything is decoded, so a small file that claims 30000x30000
pixels (a decompression bomb) never allocates its gigabytes.

Pillow's own guard (Image.open warns with DecompressionBombWarning past
Image.MAX_IMAGE_PIXELS) is not used through the warnings module: its filters
are process-wide and not thread-safe, and photos are decoded on worker
threads. The file is opened by the format's plugin class instead, and
Pillow's threshold is applied here as a refusal too.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, JpegImagePlugin, PngImagePlugin
from sightline.v1.errors_pb2 import ErrorCode

Box = tuple[float, float, float, float]

# The formats the glasses send, by their file signatures.
_SIGNATURES: tuple[tuple[bytes, str, type[Image.Image]], ...] = (
    (b"\xff\xd8\xff", "JPEG", JpegImagePlugin.JpegImageFile),
    (b"\x89PNG\r\n\x1a\n", "PNG", PngImagePlugin.PngImageFile),
)
CONTENT_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
# EXIF orientation -> the transposition that makes the photo upright.
_ORIENTATION = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255)
# What Pillow raises for a corrupt or truncated file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


class ImageRefused(Exception):
    """A photo that cannot be analysed, with the ErrorCode to report."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Photo:
    """A decoded photo: upright (EXIF orientation applied) and RGB. width and
    height are the photo's own; image may be smaller when it was decoded for
    analysis only (open_photo's draft_side)."""

    image: Image.Image
    format: str
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        if not self.width or not self.height:
            object.__setattr__(self, "width", self.image.width)
            object.__setattr__(self, "height", self.image.height)


def sniff_format(data: bytes) -> str:
    """ "JPEG" or "PNG" by the file's signature, or ImageRefused."""
    for signature, name, _ in _SIGNATURES:
        if data.startswith(signature):
            return name
    if not data:
        raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "the photo is empty (0 bytes)")
    raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, "not a JPEG or PNG image")


def open_photo(data: bytes, *, max_pixels: int, draft_side: int | None = None) -> Photo:
    """Decode a whole photo within max_pixels (ImageRefused otherwise).

    draft_side: the photo is only analysed, at most this large; a JPEG is
    then decoded at the smallest of 1/2, 1/4 or 1/8 scale still at least
    that large on both sides (the decoder's DCT scaling: far faster than a
    full decode and a resize). Every byte is still decoded, so a truncated
    file is refused all the same."""
    fmt = sniff_format(data)
    plugin = next(cls for _, name, cls in _SIGNATURES if name == fmt)
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        # The plugin parses the header only: size and mode, no pixels yet.
        image = plugin(io.BytesIO(data))
    except _DECODE_ERRORS as err:
        raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"not a valid {fmt} image: {err}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"a {width}x{height} image has no pixels")
    if width * height > limit:
        raise ImageRefused(ErrorCode.ERROR_CODE_OVERSIZED, f"{width}x{height} pixels is over the {limit}-pixel limit")
    try:
        orientation = _orientation(image)
        if draft_side and fmt == "JPEG":
            image.draft(None, (draft_side, draft_side))
        image.load()
        upright = _to_rgb(image)
    except _DECODE_ERRORS as err:
        raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"not a valid {fmt} image: {err}") from None
    finally:
        image.close()
    steps = _ORIENTATION.get(orientation, ())
    for step in steps:
        upright = upright.transpose(step)
    # Nothing of the file's metadata travels on (EXIF, ICC, text chunks).
    upright.info.clear()
    # Orientations 5 to 8 turn the photo a quarter: width and height swap.
    turned = orientation in (5, 6, 7, 8)
    return Photo(upright, fmt, height if turned else width, width if turned else height)


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except (TypeError, ValueError):
        # A malformed EXIF block is not worth refusing the photo for.
        return 1


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB: 16-bit grey scaled (not clipped), transparency
    over white (signs on a transparent background stay readable)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # A 16-bit PNG: Pillow's own conversion would clip at 255.
        values = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if values.size and float(np.nanmax(values)) <= 1.0 else 255.0
        grey = np.clip(np.rint(np.nan_to_num(values) * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("L", "RGB") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode == "RGB":
        return image.copy()
    return image.convert("RGB")


def analysis_view(photo: Photo, *, max_side: int) -> tuple[np.ndarray, float]:
    """The photo as an HxWx3 uint8 RGB array no larger than max_side, and the
    scale from the photo's own size to it (1.0 when it was small enough, and
    from the full size when the JPEG was drafted). Boxes are normalised, so
    they hold for the original too."""
    image = photo.image
    longest = max(image.width, image.height)
    if longest > max_side:
        factor = max_side / longest
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        # reducing_gap: a fast box reduction first, then a proper filter.
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image, dtype=np.uint8).copy(), image.width / photo.width


def pixel_box(box: Box, width: int, height: int, *, margin: float = 0.0) -> tuple[int, int, int, int]:
    """A normalised (x, y, w, h) box, grown by margin of its size on every
    side, as pixel (left, top, right, bottom) clipped to the image."""
    x, y, w, h = box
    left = (x - margin * w) * width
    top = (y - margin * h) * height
    right = (x + w + margin * w) * width
    bottom = (y + h + margin * h) * height
    return (
        max(0, math.floor(left)),
        max(0, math.floor(top)),
        min(width, math.ceil(right)),
        min(height, math.ceil(bottom)),
    )


def blur_boxes(image: Image.Image, boxes: Iterable[Box], *, margin: float = 0.15) -> Image.Image:
    """A copy of image with every box (plus margin) destroyed beyond
    recognition: pixelated to about 8 blocks across, then blurred with a
    Gaussian as wide as a block. Averaging throws the detail away, so the
    result cannot be undone (a blur alone can be partly deconvolved)."""
    out = image.convert("RGB") if image.mode != "RGB" else image.copy()
    for box in boxes:
        left, top, right, bottom = pixel_box(box, out.width, out.height, margin=margin)
        if right - left < 2 or bottom - top < 2:
            continue
        region = out.crop((left, top, right, bottom))
        block = max(2, max(region.width, region.height) // 8)
        coarse = region.resize((max(1, math.ceil(region.width / block)), max(1, math.ceil(region.height / block))), Image.Resampling.BOX)
        region = coarse.resize(region.size, Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(block))
        out.paste(region, (left, top))
    return out


def encode(image: Image.Image, content_type: str) -> bytes:
    """JPEG (quality 90) or PNG, without EXIF: the pixels are upright already."""
    fmt = CONTENT_TYPES.get(content_type)
    if fmt is None:
        raise ImageRefused(ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA, f"cannot encode {content_type[:80]!r}: not image/jpeg or image/png")
    buffer = io.BytesIO()
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    if fmt == "JPEG":
        rgb.save(buffer, "JPEG", quality=90, exif=b"")
    else:
        rgb.save(buffer, "PNG", exif=b"")
    return buffer.getvalue()
