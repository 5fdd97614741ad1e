"""Image tags on real photos (scikit-image's sample data), EfficientNet-Lite0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sightline_vision.engines.efficientnet_lite import EfficientNetLite, load_lite0
from sightline_vision.engines.tagger import imagenet_labels, lite0_weights_path
from skimage import data as samples

pytestmark = pytest.mark.slow

# What each photo shows, in ImageNet-1k's classes. ImageNet has no person or
# astronaut class: the astronaut photo is known by the helmet in the corner
# and the space shuttle model behind her.
EXPECTED = {
    "coffee": {"espresso", "cup", "coffee mug"},
    "chelsea": {"tabby", "tiger cat", "Egyptian cat"},
    "astronaut": {"football helmet", "crash helmet", "space shuttle"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_expected_class_is_in_the_top_5(tagger, name: str) -> None:
    image = getattr(samples, name)()
    tags = tagger.tag(image, 5)
    labels = [t.label for t in tags]
    assert set(labels) & EXPECTED[name], labels
    scores = [t.score for t in tags]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < s <= 1.0 for s in scores)


def test_the_weights_load_strictly_into_the_project_network() -> None:
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    model = EfficientNetLite()
    assert set(state) == set(model.state_dict())
    loaded = load_lite0(lite0_weights_path())
    assert not loaded.training
    assert loaded._fc.out_features == 1000


def test_there_are_1000_distinct_imagenet_labels() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000
    assert len(set(labels)) == 1000
    assert labels[281:286] == ["tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"]
    assert all(label.strip() for label in labels)


def test_odd_shapes_are_tagged(tagger) -> None:
    for shape in ((1, 1, 3), (20, 900, 3), (900, 20, 3)):
        tags = tagger.tag(np.full(shape, 200, dtype=np.uint8), 3)
        assert len(tags) <= 3
