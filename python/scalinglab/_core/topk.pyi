"""_core.topk: matrix-free top-k eigenpairs of a streamed random-feature Gram."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import features as _features

def feature_gram(map: _features.RandomFeatureMap, X: npt.ArrayLike, k: int, oversample: int = -1, max_iterations: int = 100, tol: float = 1e-06, vectors: bool = False, seed: int = 0, block_size: int = 0, n_threads: int = 0, progress: object = None) -> dict: ...
