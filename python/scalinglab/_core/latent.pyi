"""_core.latent: latent power-law samples and streamed random-feature moments (MRS)."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

STREAM_DATA: int
STREAM_NOISE: int
STREAM_TEACHER: int
STREAM_TEST: int
def moments(data_seed: int, std_devs: npt.ArrayLike, teacher_power: npt.ArrayLike, n_train: int, n_test: int, feature_seed: int, n_features: int, block_size: int = 0, n_threads: int = 0, progress: object = None) -> tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]: ...
def samples(seed: int, stream: int, std_devs: npt.ArrayLike, start: int, stop: int, n_threads: int = 0) -> npt.ArrayLike: ...
