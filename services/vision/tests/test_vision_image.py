"""Decoding photos safely (sightline_vision.domain.image): bad input is refused
with a clear reason, every mode becomes upright RGB, blurring is local."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from PIL import Image
from sightline.v1.errors_pb2 import ErrorCode
from sightline_vision.domain.image import ImageRefused, analysis_view, blur_boxes, encode, open_photo

MAX_PIXELS = 40_000_000


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, **options)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit PNG of width x height black pixels: ~100 KB on disk,
    900 MB once Pillow decodes it (one byte per pixel)."""
    row = b"\x00" + bytes((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _refusal(data: bytes, max_pixels: int = MAX_PIXELS) -> ImageRefused:
    with pytest.raises(ImageRefused) as caught:
        open_photo(data, max_pixels=max_pixels, draft_side=1280)
    return caught.value


def test_zero_bytes_are_refused() -> None:
    refused = _refusal(b"")
    assert refused.code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA
    assert "empty" in refused.reason


@pytest.mark.parametrize("data", [b"hello, this is not a photo", b"%PDF-1.7\n%...", b"GIF89a\x01\x00\x01\x00", bytes(range(256)) * 4])
def test_not_an_image_is_refused(data: bytes) -> None:
    refused = _refusal(data)
    assert refused.code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA
    assert "not a JPEG or PNG" in refused.reason


def test_a_truncated_jpeg_is_refused() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    data = _jpeg(Image.fromarray(noise))
    refused = _refusal(data[: len(data) // 2])
    assert refused.code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA
    assert "truncated" in refused.reason


def test_a_truncated_png_is_refused() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    data = _png(Image.fromarray(noise))
    assert _refusal(data[: len(data) - 400]).code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA


def test_a_png_with_a_damaged_chunk_is_refused() -> None:
    data = bytearray(_png(Image.new("RGB", (64, 64), (10, 200, 30))))
    data[40] ^= 0xFF  # inside IDAT: the CRC no longer matches
    assert _refusal(bytes(data)).code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA


def test_a_decompression_bomb_is_refused_by_its_header() -> None:
    data = bomb_png()
    assert len(data) < 2_000_000
    refused = _refusal(data)
    assert refused.code == ErrorCode.ERROR_CODE_OVERSIZED
    assert "30000x30000" in refused.reason


def test_the_bomb_is_refused_without_decoding_it() -> None:
    """In a fresh interpreter, whose peak memory tells what was allocated:
    decoding would take 900 MB, the refusal takes what the imports take."""
    script = textwrap.dedent(
        """
        import resource, sys
        from sightline_vision.domain.image import ImageRefused, open_photo
        data = sys.stdin.buffer.read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            open_photo(data, max_pixels=40_000_000)
        except ImageRefused as err:
            print(err.code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], input=bomb_png(), capture_output=True, timeout=60, check=True)
    code, grown_kib = done.stdout.split()
    assert int(code) == ErrorCode.ERROR_CODE_OVERSIZED
    assert int(grown_kib) < 50_000  # under 50 MB more than before the call


def test_a_photo_over_the_pixel_limit_is_refused() -> None:
    data = _png(Image.new("RGB", (1001, 1000)))
    refused = _refusal(data, max_pixels=1_000_000)
    assert refused.code == ErrorCode.ERROR_CODE_OVERSIZED
    assert open_photo(data, max_pixels=1_001_000).width == 1001


def test_a_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (120, 80), (0, 255, 255, 0))  # pure red in CMYK
    photo = open_photo(_jpeg(cmyk), max_pixels=MAX_PIXELS)
    assert photo.image.mode == "RGB"
    assert photo.format == "JPEG"
    red, green, blue = np.asarray(photo.image).reshape(-1, 3).mean(axis=0)
    assert red > 200
    assert green < 60
    assert blue < 60


def test_a_16_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    photo = open_photo(_png(Image.fromarray(ramp)), max_pixels=MAX_PIXELS)
    assert photo.image.mode == "RGB"
    pixels = np.asarray(photo.image)[..., 0].astype(int)
    assert pixels[0, 0] == 0
    assert pixels[0, -1] == 255
    assert abs(pixels[0, 128] - 128) <= 1  # half way is mid-grey, not white


@pytest.mark.parametrize("mode", ["LA", "RGBA", "P", "L", "1"])
def test_every_mode_becomes_rgb_with_transparency_over_white(mode: str) -> None:
    rgba = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    rgba.paste((200, 30, 30, 255), (0, 0, 20, 20))
    image = rgba.convert(mode) if mode not in ("P",) else rgba.convert("P", palette=Image.Palette.ADAPTIVE)
    if mode == "P":
        image.info["transparency"] = image.getpixel((39, 19))
    photo = open_photo(_png(image), max_pixels=MAX_PIXELS)
    assert photo.image.mode == "RGB"
    assert photo.image.size == (40, 20)
    if mode in ("LA", "RGBA", "P"):
        assert photo.image.getpixel((35, 10)) == (255, 255, 255)


def test_exif_orientation_is_applied() -> None:
    # Stored sideways: the camera was turned. Orientation 6 = rotate 90 degrees clockwise to view.
    stored = Image.new("RGB", (200, 100), (255, 255, 255))
    stored.paste((255, 0, 0), (0, 0, 40, 40))  # a red block at the stored top left
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = open_photo(_jpeg(stored, exif=exif.tobytes()), max_pixels=MAX_PIXELS)
    assert (photo.width, photo.height) == (100, 200)
    red, green, _ = photo.image.getpixel((90, 10))  # it is at the top right once upright
    assert red > 200
    assert green < 60
    assert photo.image.getpixel((10, 10))[1] > 200
    assert not photo.image.getexif()


def test_analysis_view_downscales_and_keeps_the_original() -> None:
    photo = open_photo(_jpeg(Image.new("RGB", (4000, 3000), (90, 90, 90))), max_pixels=MAX_PIXELS)
    view, scale = analysis_view(photo, max_side=1280)
    assert view.shape == (960, 1280, 3)
    assert view.dtype == np.uint8
    assert scale == pytest.approx(0.32)
    assert (photo.width, photo.height) == (4000, 3000)
    small, same = analysis_view(open_photo(_png(Image.new("RGB", (640, 480))), max_pixels=MAX_PIXELS), max_side=1280)
    assert small.shape == (480, 640, 3)
    assert same == 1.0


def test_blur_destroys_the_box_and_nothing_else() -> None:
    noise = np.random.default_rng(2).integers(0, 255, (400, 600, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    blurred = np.asarray(blur_boxes(image, [(0.25, 0.25, 0.5, 0.5)], margin=0.0)).astype(int)
    original = noise.astype(int)
    inside = (slice(100, 300), slice(150, 450))
    assert np.abs(blurred[inside] - original[inside]).mean() > 40
    assert blurred[inside].std() < original[inside].std() / 4  # the detail is gone
    outside = np.ones((400, 600), dtype=bool)
    outside[inside] = False
    assert np.array_equal(blurred[outside], original[outside])
    # The margin grows the box by 15% of its size on every side.
    with_margin = np.asarray(blur_boxes(image, [(0.25, 0.25, 0.5, 0.5)])).astype(int)
    assert not np.array_equal(with_margin[80:100, 300], original[80:100, 300])
    assert np.array_equal(with_margin[:65], original[:65])


def test_encode_writes_jpeg_and_png_without_exif() -> None:
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    image.info["exif"] = b"Exif\x00\x00junk"
    for content_type, fmt in (("image/jpeg", "JPEG"), ("image/png", "PNG")):
        data = encode(image, content_type)
        again = open_photo(data, max_pixels=MAX_PIXELS)
        assert again.format == fmt
        assert again.image.size == (64, 48)
        assert not Image.open(io.BytesIO(data)).getexif()
    with pytest.raises(ImageRefused) as caught:
        encode(image, "image/gif")
    assert caught.value.code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA


def test_a_large_jpeg_decoded_for_analysis_only_is_drafted() -> None:
    noise = np.random.default_rng(3).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    large = Image.fromarray(noise).resize((4000, 3000))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _jpeg(large, exif=exif.tobytes())
    photo = open_photo(data, max_pixels=MAX_PIXELS, draft_side=1280)
    # The photo's own size, upright; its pixels at half scale (the smallest still >= 1280 on both sides).
    assert (photo.width, photo.height) == (3000, 4000)
    assert photo.image.size == (1500, 2000)
    view, scale = analysis_view(photo, max_side=1280)
    assert view.shape == (1280, 960, 3)
    assert scale == pytest.approx(0.32)
    assert open_photo(data, max_pixels=MAX_PIXELS).image.size == (3000, 4000)
    # Drafting still decodes every byte: a truncated file is refused.
    assert _refusal(data[: len(data) * 2 // 3]).code == ErrorCode.ERROR_CODE_UNSUPPORTED_MEDIA
