"""_core.features: random feature maps whose weights are regenerated from Philox, never stored."""

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64] | npt.NDArray[np.float32]

class RandomFeatureMap:
    def __init__(
        self, d: int, n_features: int, activation: str, seed: int, lengthscale: float = 1.0
    ) -> None: ...
    @property
    def d(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def activation(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def lengthscale(self) -> float: ...
    def weights(
        self, start: int, stop: int, single_precision: bool = False, n_threads: int = 0
    ) -> Array: ...
    def phases(self, start: int, stop: int) -> npt.NDArray[np.float64]: ...
    def transform(
        self, X: Array, start: int, stop: int, n_threads: int = 0, block_size: int = 0
    ) -> Array: ...
    def grams(
        self,
        X: Array,
        Z: Array | None = None,
        with_gram: bool = True,
        checkpoints: Sequence[int] = (),
        block_size: int = 0,
        n_threads: int = 0,
        progress: Callable[[float], object] | None = None,
    ) -> tuple[list[int], list[Array], list[Array]]: ...

def default_block_size(rows: int, d: int, scalar_bytes: int) -> int: ...
def activation_names() -> str: ...
