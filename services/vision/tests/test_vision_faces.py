"""Bystander privacy: a face in a real photo is found and blurred beyond recognition."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sightline.v1.vision_pb2 import PhotoTreatment
from sightline_vision.domain.image import pixel_box
from sightline_vision.engines.samples import jpeg_bytes, sign_photo
from skimage import data as samples

pytestmark = pytest.mark.slow

# Where Eileen Collins' face is in scikit-image's astronaut (512x512), loosely.
FACE_REGION = (0.30, 0.05, 0.30, 0.35)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _inside(box, region) -> bool:
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return region[0] <= cx <= region[0] + region[2] and region[1] <= cy <= region[1] + region[3]


def _detail(pixels: np.ndarray) -> float:
    """Mean difference between neighbouring pixels: high where there are edges."""
    grey = pixels.astype(float).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def test_the_astronauts_face_is_found(faces) -> None:
    found = faces.detect(samples.astronaut())
    assert len(found) == 1, found
    assert _inside(found[0], FACE_REGION), found


def test_no_face_in_photos_without_people(faces) -> None:
    assert faces.detect(samples.coffee()) == []
    assert faces.detect(samples.chelsea()) == []
    assert faces.detect(np.full((480, 640, 3), 90, dtype=np.uint8)) == []


def test_protect_blurs_the_face_and_nothing_else(analyzer, faces) -> None:
    original = samples.astronaut()
    protected = analyzer.protect(_png(original), "image/png", keep_faces=False)
    assert protected.treatment == PhotoTreatment.PHOTO_TREATMENT_FACES_BLURRED
    assert protected.faces == 1
    assert (protected.width, protected.height) == (512, 512)
    blurred = np.asarray(Image.open(io.BytesIO(protected.data)).convert("RGB"))
    left, top, right, bottom = pixel_box(protected.face_boxes[0], 512, 512, margin=0.15)
    inside = (slice(top, bottom), slice(left, right))
    difference = np.abs(blurred[inside].astype(int) - original[inside].astype(int))
    assert difference.mean() > 15, difference.mean()

    # Fine detail (eyes, mouth) is gone: the blurred face has far less local contrast.
    assert _detail(blurred[inside]) < _detail(original[inside]) / 4
    outside = np.ones((512, 512), dtype=bool)
    outside[inside] = False
    assert np.array_equal(blurred[outside], original[outside])
    # And the detector no longer finds a face there.
    assert faces.detect(blurred) == []


def test_an_opted_in_device_keeps_the_original(analyzer) -> None:
    data = _png(samples.astronaut())
    protected = analyzer.protect(data, "image/png", keep_faces=True)
    assert protected.treatment == PhotoTreatment.PHOTO_TREATMENT_ORIGINAL_KEPT
    assert protected.faces == 1
    assert protected.data is data


def test_a_photo_without_faces_is_stored_as_it_came(analyzer) -> None:
    data = _png(samples.coffee())
    protected = analyzer.protect(data, "image/png", keep_faces=False)
    assert protected.treatment == PhotoTreatment.PHOTO_TREATMENT_NO_FACES
    assert protected.faces == 0
    assert protected.data is data


def test_signs_are_not_taken_for_faces(analyzer) -> None:
    # A false face on a sign would blur the very text the wearer wants read.
    image, _ = sign_photo(("出口", "禁止吸烟", "收银台", "EXIT", "洗手间", "No Smoking"))
    data = jpeg_bytes(image)
    protected = analyzer.protect(data, "image/jpeg", keep_faces=False)
    assert protected.treatment == PhotoTreatment.PHOTO_TREATMENT_NO_FACES
    assert protected.data is data
