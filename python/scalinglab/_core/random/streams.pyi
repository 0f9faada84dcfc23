"""_core.random.streams: the stream ids of every random quantity of the core (random.hpp)."""

FEATURE_WEIGHTS: int
FEATURE_PHASES: int
PROJECTION: int
DATA: int
NOISE: int
SGD: int
WISHART: int
BOOTSTRAP: int
TOPK: int
DATASET: int
TEACHER: int
SAMPLING: int
USER: int
