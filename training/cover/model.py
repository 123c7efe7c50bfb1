"""A small CNN for covered / uncovered truck loads (about 80 k parameters, 0.3 MB as ONNX).

Five 3x3 convolution blocks (batch norm, ReLU; four of them halve the size), global average
pooling, dropout and a linear layer over the two classes. :class:`CoverExport` wraps it with a
softmax so that the ONNX file outputs probabilities, as :mod:`edge.rules.cover` expects.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class CoverNet(nn.Module):
    """Logits of (covered, uncovered) for ``(N, 3, H, W)`` RGB input in 0..1."""

    def __init__(self, width: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(3, w, stride=2),
            _block(w, 2 * w),
            nn.MaxPool2d(2),
            _block(2 * w, 3 * w),
            nn.MaxPool2d(2),
            _block(3 * w, 4 * w),
            nn.MaxPool2d(2),
            _block(4 * w, 6 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(6 * w, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, ``(N, 2)``."""
        y = self.pool(self.features(x)).flatten(1)
        out: torch.Tensor = self.head(self.dropout(y))
        return out


class CoverExport(nn.Module):
    """:class:`CoverNet` with a softmax: the graph that is exported to ONNX."""

    def __init__(self, net: CoverNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities, ``(N, 2)``."""
        return torch.softmax(self.net(x), dim=1)
