"""How much each person's adapter changes an image inside its own region versus elsewhere:
the measure that two people are kept apart (shared by the test and the benchmark)."""

from __future__ import annotations

import numpy as np


def regional_influence(pipe, regions, negative: str, size: int, steps: int, seed: int) -> list:
    """For each region: mean absolute change (0..255) that its adapter makes inside the region
    and outside it, against the same image with that adapter left out."""
    import torch

    from likeness.generate.sampling import Region, sample_regions

    def draw(rs):
        return sample_regions(
            pipe,
            rs,
            negative,
            width=size,
            height=size,
            steps=steps,
            guidance=7.0,
            generator=torch.Generator().manual_seed(seed),
        ).astype(np.float64)

    out = []
    for i, region in enumerate(regions):
        without = [
            Region(r.prompt, None if j == i else r.adapter, r.box) for j, r in enumerate(regions)
        ]
        change = np.abs(draw(regions) - draw(without)).mean(axis=2)
        x0, y0, x1, y1 = region.box
        inside = np.zeros(change.shape, bool)
        inside[y0:y1, x0:x1] = True
        out.append((float(change[inside].mean()), float(change[~inside].mean())))
    return out
