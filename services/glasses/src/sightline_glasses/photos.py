"""Photos the wearer takes: checked before anything is stored.

Only real JPEG and PNG files are accepted: the file signature must say so,
Pillow must decode the whole image, and its size is bounded twice, in bytes
and in decoded pixels, so a small PNG that claims a huge canvas (a
decompression bomb) is refused before it is decoded.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

JPEG = "image/jpeg"
PNG = "image/png"
_SIGNATURES = ((b"\xff\xd8\xff", JPEG, "JPEG"), (b"\x89PNG\r\n\x1a\n", PNG, "PNG"))
CONTENT_TYPES = frozenset({JPEG, PNG})
# One token of an object name (<device>/<photo_id>); the HUD page uses the same rule.
PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class PhotoError(ValueError):
    """The file is not a photo the glasses accept; the message says why."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.data).digest()


def check_photo(data: bytes, *, max_bytes: int, max_pixels: int, name: str = "photo") -> Photo:
    if not data:
        raise PhotoError(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise PhotoError(f"{name}: {len(data)} bytes is over the {max_bytes}-byte photo limit")
    kind = next(((ctype, fmt) for magic, ctype, fmt in _SIGNATURES if data.startswith(magic)), None)
    if kind is None:
        raise PhotoError(f"{name}: not a JPEG or PNG image (unrecognised file signature)")
    content_type, fmt = kind
    with warnings.catch_warnings():
        # Pillow only warns between its own limit and twice that; refuse instead.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise PhotoError(
                        f"{name}: {width}x{height} pixels is over the {max_pixels}-pixel limit (decompression bomb protection)"
                    )
                image.load()  # decode it all: a truncated or corrupt file fails here
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise PhotoError(f"{name}: refused as a decompression bomb ({err})") from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise PhotoError(f"{name}: not a valid {fmt} image ({err})") from None
    return Photo(data=bytes(data), content_type=content_type, width=width, height=height)


def read_photo(path: Path, *, max_bytes: int, max_pixels: int) -> Photo:
    """Read and check a photo file; never reads more than max_bytes + 1."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as err:
        raise PhotoError(f"{path}: cannot read it ({err.strerror or err})") from None
    return check_photo(data, max_bytes=max_bytes, max_pixels=max_pixels, name=str(path))


def check_photo_id(photo_id: str) -> str:
    if not PHOTO_ID.fullmatch(photo_id):
        raise PhotoError(f"invalid photo id {photo_id!r}: use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit")
    return photo_id
