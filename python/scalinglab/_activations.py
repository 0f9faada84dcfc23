"""The activations of the random feature maps: one list, read from the compiled core.

``features.py`` (which maps accept them) and ``kernels.py`` (which have an analytic
infinite-width kernel) both import it from here, so neither imports the other for it.
"""

from __future__ import annotations

from scalinglab._native import _core

ACTIVATIONS: tuple[str, ...] = tuple(
    name.strip() for name in _core.features.activation_names().split(",")
)
"""Valid values of the ``activation`` argument, in the core's order."""

__all__ = ["ACTIVATIONS"]
