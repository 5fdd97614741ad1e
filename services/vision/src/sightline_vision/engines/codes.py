"""Barcodes and QR codes (zxing-cpp): EAN/UPC, Code 128/39/93, ITF,
Codabar, QR, Data Matrix, Aztec, PDF417 and the rest zxing-cpp reads."""

from __future__ import annotations

import numpy as np
import zxingcpp

from sightline_vision.engines import FoundCode, normalised_box


def grey(image: np.ndarray) -> np.ndarray:
    """HxWx3 RGB -> HxW luma (ITU-R BT.601), what zxing binarises anyway."""
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.uint8)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.ascontiguousarray(np.clip(image[..., :3].astype(np.float32) @ weights, 0, 255).astype(np.uint8))


class ZxingCodeReader:
    """Thread-safe: every call builds its own reader state in zxing-cpp."""

    name = "zxing-cpp"

    def read(self, image: np.ndarray) -> list[FoundCode]:
        luma = grey(image)
        height, width = luma.shape
        found = []
        for barcode in zxingcpp.read_barcodes(luma):
            if not barcode.valid:
                continue
            position = barcode.position
            points = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
            xs = [p.x for p in points]
            ys = [p.y for p in points]
            box = normalised_box(xs, ys, width, height)
            if box[3] == 0.0:
                # A linear barcode is found along one scan line: give its box
                # a height (a tenth of its width, about the bars' height).
                pad = max(box[2] * 0.1, 1.0 / height)
                top = max(0.0, box[1] - pad / 2)
                box = (box[0], top, box[2], min(1.0, box[1] + pad / 2) - top)
            found.append(FoundCode(format_name(barcode.format), barcode.text, box))
        return found


def format_name(barcode_format: object) -> str:
    """zxing-cpp's name for a format: "EAN13", "Code128", "QRCode", ..."""
    name = getattr(barcode_format, "name", None) or str(barcode_format)
    return name.rsplit(".", 1)[-1]
