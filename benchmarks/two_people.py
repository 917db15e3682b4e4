"""Two people in one image: does each person's adapter act in their own region only?

Alice (the astronaut) and Grace Hopper each get a LoRA adapter trained on the built-in tiny
model; an image is drawn with both by regional prompting (two vertical strips), then again
with one adapter left out. The mean absolute change each adapter makes inside its own strip is
compared with the change outside it, over several seeds.

    .venv/bin/python benchmarks/two_people.py [--seeds 4] [--steps 20] [--train-steps 60]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=60)
    args = parser.parse_args()
    import numpy as np

    from likeness.adapters.curation import CurationRules
    from likeness.adapters.manage import latest_adapter, load_into_pipeline
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.consent.grants import Scope, Trust, issue_grant
    from likeness.generate.layout import strips
    from likeness.generate.sampling import Region
    from likeness.models.loading import load_pipeline
    from likeness.models.registry import get_model
    from likeness.store import Library
    from likeness.testing.libraries import two_people_library
    from likeness.testing.regions import regional_influence

    with tempfile.TemporaryDirectory() as tmp:
        home, alice, grace = two_people_library(Path(tmp))
        lib = Library.open(home)
        for person in (alice, grace):
            issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
            train_adapter(
                lib,
                authorize_training(lib, person, "tiny-sd15"),
                person,
                "tiny-sd15",
                TrainingParams(steps=args.train_steps, learning_rate=2e-3, seed=person),
                rules=CurationRules(min_photos=2),
            )
        model = get_model(lib, "tiny-sd15")
        pipe = load_pipeline(model)
        names = [
            load_into_pipeline(lib, pipe, latest_adapter(lib, p, model.name))
            for p in (alice, grace)
        ]
        size = model.resolution
        regions = [
            Region(f"a photo of {n} person at the beach", n, box)
            for n, box in zip(names, strips(2, size, size), strict=True)
        ]
        rows = [
            regional_influence(pipe, regions, "", size, args.steps, s) for s in range(args.seeds)
        ]
    print(f"tiny-sd15 at {size} px, two strips, {args.steps} steps, {args.seeds} seeds")
    for k, who in enumerate(("Alice (left)", "Grace Hopper (right)")):
        inside = np.mean([r[k][0] for r in rows])
        outside = np.mean([r[k][1] for r in rows])
        print(
            f"{who:22} adapter: mean |change| {inside:.2f} inside its region, "
            f"{outside:.2f} outside; ratio {inside / outside:.2f}"
        )


if __name__ == "__main__":
    main()
