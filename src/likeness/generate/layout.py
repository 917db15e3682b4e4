"""Where each mentioned person goes in the image: one vertical strip per person, left to right
in the order of mention. The strips drive regional prompting (each person's adapter acts only
in their strip) and tell the safety gate where each face must be."""

from __future__ import annotations

import numpy as np

Box = tuple[int, int, int, int]


def strips(count: int, width: int, height: int) -> list[Box]:
    """``count`` side-by-side regions covering the image (x0, y0, x1, y1)."""
    edges = [round(i * width / count) for i in range(count + 1)]
    return [(edges[i], 0, edges[i + 1], height) for i in range(count)]


def region_masks(boxes: list[Box], width: int, height: int, scale: int, feather: int = 2):
    """Soft masks over the latent grid (one per box) that sum to 1 everywhere: each box's
    weight ramps over ``feather`` latent pixels at its inner edges so the seams blend."""
    h, w = height // scale, width // scale
    masks = np.zeros((len(boxes), h, w), dtype=np.float32)
    xs = np.arange(w) + 0.5
    for i, (x0, _, x1, _) in enumerate(boxes):
        a, b = x0 / scale, x1 / scale
        left = np.clip((xs - a) / feather + 0.5, 0, 1) if x0 > 0 else np.ones(w)
        right = np.clip((b - xs) / feather + 0.5, 0, 1) if x1 < width else np.ones(w)
        masks[i] = np.minimum(left, right)[None, :]
    return masks / masks.sum(axis=0, keepdims=True)
