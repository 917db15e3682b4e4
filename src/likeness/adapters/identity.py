"""How much an adapter's images look like the person: the identity score.

Sample images with fixed prompts and seeds, find the faces in them with the library's face
backend, and measure each face against the person's photo group with the same embeddings,
centroid distance and threshold as the consent match (``people.identity``). No LoRA trainer
reports this; it is what tells a user whether an adapter looks like them. The built-in tiny
models draw no faces, and the score says so rather than inventing one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from likeness.errors import ConflictError
from likeness.faces.backends import load_backend
from likeness.models.device import choose_device
from likeness.people.identity import photo_group
from likeness.people.records import get_person
from likeness.store import Library

PROMPTS = (
    "a photo of {trigger} person, portrait, natural light",
    "a photo of {trigger} person smiling, outdoors",
    "a close-up photo of {trigger} person, studio lighting",
    "a photo of {trigger} person looking at the camera",
)
SEEDS = (11, 22)


@dataclass(frozen=True)
class IdentityScore:
    images: int
    with_face: int
    matched: int
    mean_distance: float | None
    threshold: float

    @property
    def match_rate(self) -> float:
        return self.matched / self.images if self.images else 0.0

    def summary(self) -> str:
        if not self.with_face:
            return (
                f"no face found in {self.images} sampled image(s): the identity cannot be "
                "scored (the built-in tiny models draw no faces)"
            )
        return (
            f"the person's face in {self.matched} of {self.images} images "
            f"({self.match_rate:.0%}; faces found in {self.with_face}); mean distance to "
            f"their photo group {self.mean_distance:.3f} (match below {self.threshold})"
        )

    def as_json(self) -> dict:
        return {
            "images": self.images,
            "with_face": self.with_face,
            "matched": self.matched,
            "mean_distance": self.mean_distance,
            "threshold": self.threshold,
        }


def score_images(lib: Library, person_id: int, images: list[np.ndarray], backend=None):
    """Score RGB images (generated, or any) against the person's photo group. For each image
    the face closest to the group counts."""
    backend = backend or load_backend()
    with lib.session() as s:
        get_person(s, person_id)
        group = photo_group(s, person_id, type(backend))
    if group is None:
        raise ConflictError(f"person {person_id} has no faces to compare with")
    distances = []
    for image in images:
        faces = backend.analyze(np.ascontiguousarray(image))
        if faces:
            distances.append(min(group.distance(f.embedding) for f in faces))
    return IdentityScore(
        images=len(images),
        with_face=len(distances),
        matched=sum(d < group.match_distance for d in distances),
        mean_distance=float(np.mean(distances)) if distances else None,
        threshold=group.match_distance,
    )


def sample_images(pipe, trigger: str, resolution: int, steps: int = 25) -> list[np.ndarray]:
    """The fixed evaluation images: each prompt at each seed."""
    import torch

    out = []
    for seed in SEEDS:
        for prompt in PROMPTS:
            result = pipe(
                prompt.format(trigger=trigger),
                num_inference_steps=steps,
                generator=torch.Generator().manual_seed(seed),
                height=resolution,
                width=resolution,
                output_type="np",
            )
            out.append((result.images[0] * 255).round().astype(np.uint8))
    return out


def evaluate_adapter(
    lib: Library,
    decision,
    person_id: int,
    adapter=None,
    *,
    device: str | None = None,
    steps: int = 25,
) -> IdentityScore:
    """Sample the fixed prompts with the person's adapter and score the faces; the score is
    kept with the adapter. The images stay in memory and are never written: evaluating is part
    of training, so ``decision`` is the person's ``train-adapter`` decision."""
    import json

    from likeness.adapters.manage import latest_adapter, load_into_pipeline
    from likeness.adapters.tables import AdapterRecord
    from likeness.consent.policy import Action
    from likeness.models.loading import load_pipeline
    from likeness.models.registry import get_model

    info = adapter or latest_adapter(lib, person_id)
    model = get_model(lib, info.base_model)
    decision.require(Action.TRAIN_ADAPTER, [person_id], model.kind)
    decision.check_in_force(lib)
    device = choose_device(device)
    pipe = load_pipeline(model, device)
    load_into_pipeline(lib, pipe, info)
    images = sample_images(pipe, info.trigger, model.resolution, steps)
    score = score_images(lib, person_id, images)
    with lib.session() as s:
        row = s.get(AdapterRecord, info.id)
        metrics = json.loads(row.metrics) if row.metrics else {}
        row.metrics = json.dumps({**metrics, "identity": score.as_json()})
    return score
