"""seambench: which features and which detector tell a failing machine setting apart?"""

from __future__ import annotations

import pluggy

from seambench.components import Backbone, Detector, Reducer, TrainingImages
from seambench.data import FAIL, PASS, Dataset, ImageRecord
from seambench.errors import SeambenchError, WeightsUnavailable
from seambench.specs import Option

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("seambench")

__all__ = [
    "FAIL",
    "PASS",
    "Backbone",
    "Dataset",
    "Detector",
    "ImageRecord",
    "Option",
    "Reducer",
    "SeambenchError",
    "TrainingImages",
    "WeightsUnavailable",
    "hookimpl",
    "__version__",
]
