"""The glasses' camera source: what a shot takes a picture of.

Simulated glasses have no sensor, so their camera is a file (every shot is
that image) or a folder of images (each shot the next one in name order,
cycling). The folder is listed again at every shot, so images dropped into
it while the glasses run are used. Every shot is checked like any photo
(real JPEG/PNG, size and pixel limits) before it is taken.
"""

from __future__ import annotations

from pathlib import Path

from sightline_glasses.photos import Photo, PhotoError, read_photo

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})


class CameraError(PhotoError):
    """The camera source cannot give a photo (missing, empty folder, unreadable image)."""


class Camera:
    def __init__(self, path: str | Path, *, max_bytes: int, max_pixels: int) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.shots = 0
        self._images()  # a camera that can never shoot is refused now, not at the first command

    def _images(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise CameraError(f"camera source {self.path}: no such file or folder")
        images = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise CameraError(f"camera source {self.path}: no .jpg, .jpeg or .png image in the folder")
        return images

    def shoot(self) -> tuple[Path, Photo]:
        """The next image of the source, checked (blocking file I/O: run it in a thread)."""
        images = self._images()
        path = images[self.shots % len(images)]
        self.shots += 1
        return path, read_photo(path, max_bytes=self.max_bytes, max_pixels=self.max_pixels)

    def __repr__(self) -> str:
        return f"Camera({str(self.path)!r})"
