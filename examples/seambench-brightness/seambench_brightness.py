"""A complete seambench plugin: one backbone, registered through the `seambench` entry point."""

import numpy as np

import seambench


class BrightnessPercentiles:
    """Describes an image by evenly spaced percentiles of its pixel intensities."""

    batch_size = 128

    def __init__(self, points: int) -> None:
        self.points = points

    def embed(self, images):
        q = np.linspace(0, 100, self.points)
        return np.stack([np.percentile(img, q) for img in images]).astype(np.float32)


@seambench.hookimpl
def register_backbones(register):
    register(
        "brightness",
        BrightnessPercentiles,
        options=[seambench.Option("points", int, 9, "how many percentiles")],
        help="pixel-intensity percentiles (example plugin)",
    )
