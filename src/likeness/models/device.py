"""Where models run: the one place that picks the device when the user did not."""

from __future__ import annotations


def choose_device(requested: str | None = None) -> str:
    """``requested`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``...) if given, else the first GPU
    PyTorch sees, else the CPU."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
