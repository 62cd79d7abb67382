"""This project's own network: a small U-Net that gives every pixel a class.

Every model returns per-pixel log-probabilities, ready for F.nll_loss; torchvision's
models (backbones.py) do too.
"""

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(in_channels, out_channels):
    """Two 3x3 convolutions, each followed by BatchNorm and ReLU; the size stays."""
    return nn.Sequential(
        # BatchNorm's shift makes a convolution's bias redundant.
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class Net(nn.Module):
    """Three halvings down, three doublings up, and at each size on the way up the
    features of the way down: (N, in_channels, H, W) images of any size in,
    (N, num_classes, H, W) log-probabilities out.

    The way down sees each pixel in a wide context (a digit, an object), the way
    back restores the detail of its edges. Upsampling is bilinear rather than a
    transposed convolution: no checkerboard artefacts, and any H and W work. `width`
    (--width) scales every block's channels.
    """

    head = "classifier"  # the layers whose outputs are the classes

    def __init__(self, num_classes=10, in_channels=1, width=1.0):
        super().__init__()
        # Few channels: a CPU trains it on 800 images of 64x64 in about 3 s an epoch.
        channels = [max(1, round(n * width)) for n in (8, 16, 32, 64)]
        ins = [in_channels, *channels[:-2]]
        self.down = nn.ModuleList(
            conv_block(i, o) for i, o in zip(ins, channels[:-1], strict=True)
        )
        self.bottom = conv_block(channels[-2], channels[-1])
        # Each block up takes the upsampled features and those of the way down.
        ups = list(reversed(channels))
        self.up = nn.ModuleList(
            conv_block(below + skip, skip)
            for below, skip in zip(ups[:-1], ups[1:], strict=True)
        )
        # Class scores at the top, and at the bottom added to them: the way down
        # must then tell the classes apart itself, which the fine features of the
        # way up otherwise let it put off (on the digit canvases, 10 epochs reach
        # 0.45 mean IoU with it and 0.09, background alone, without).
        self.classifier = nn.ModuleDict(
            {
                "top": nn.Conv2d(channels[0], num_classes, kernel_size=1),
                "bottom": nn.Conv2d(channels[-1], num_classes, kernel_size=1),
            }
        )

    def forward(self, x):
        size = x.shape[-2:]
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        coarse = self.classifier["bottom"](x)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear")
            x = block(torch.cat([x, skip], dim=1))
        scores = self.classifier["top"](x)
        scores = scores + F.interpolate(coarse, size=size, mode="bilinear")
        return scores.log_softmax(dim=1)
