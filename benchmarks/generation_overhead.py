"""Generation overhead: likeness vs a bare diffusers pipeline call, same model, adapter, seed
and steps, and the fixed cost of the safety gate and provenance per image.

- bare: the tiny model built by diffusers, the person's adapter exported and loaded with
  ``load_lora_weights``, ``pipe(prompt, ...)``;
- likeness: the model through the registry's loader, the adapter decrypted in memory, the
  sampling call ``generate_images`` makes (``sample_one``);
- the fixed costs: ``SafetyGate.check`` and ``stamp_image`` (watermark, fingerprint, C2PA
  signature, manifest store) on each image; and a whole ``generate_images`` run per image.
Runs alternate; medians are compared.

    .venv/bin/python benchmarks/generation_overhead.py [--images 8] [--steps 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import trained_astronaut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    import torch

    from likeness.adapters.manage import load_into_pipeline
    from likeness.generate.run import GenerationOptions, authorize_generation, generate_images
    from likeness.generate.sampling import sample_one
    from likeness.generate.styles import STYLES
    from likeness.models.loading import load_pipeline
    from likeness.models.registry import get_model
    from likeness.models.tiny import tiny_pipeline
    from likeness.provenance.credentials import GenerationRecord
    from likeness.provenance.stamp import stamp_image
    from likeness.safety.gate import SafetyGate

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib, person, exported, info = trained_astronaut(tmp, "generate-stylized")
        style = STYLES["watercolor"]
        prompt = style.template.format(prompt=f"a photo of {info.trigger} person at the beach")
        size = get_model(lib, "tiny-sd15").resolution

        bare = tiny_pipeline("tiny-sd15")
        bare.load_lora_weights(str(exported))
        ours = load_pipeline(get_model(lib, "tiny-sd15"))
        name = load_into_pipeline(lib, ours, info)

        def bare_call(seed: int):
            bare(
                prompt,
                negative_prompt=style.negative,
                width=size,
                height=size,
                num_inference_steps=args.steps,
                guidance_scale=7.0,
                generator=torch.Generator().manual_seed(seed),
                output_type="np",
            )

        def our_call(seed: int):
            return sample_one(
                ours,
                prompt,
                style.negative,
                [name],
                width=size,
                height=size,
                steps=args.steps,
                guidance=7.0,
                generator=torch.Generator().manual_seed(seed),
            )

        bare_call(0), our_call(0)  # warm-up
        times = {"bare": [], "likeness": []}
        for seed in range(args.images):
            for label, call in (("bare", bare_call), ("likeness", our_call))[
                :: 1 if seed % 2 else -1
            ]:
                start = time.perf_counter()
                call(seed)
                times[label].append(time.perf_counter() - start)
        bare_s, ours_s = statistics.median(times["bare"]), statistics.median(times["likeness"])

        prompt_text = f"@{person} at the beach"
        options = GenerationOptions(steps=args.steps, style="watercolor", count=args.images)
        decision = authorize_generation(lib, prompt_text, options)
        gate = SafetyGate(lib, decision)
        image = our_call(1)
        gate_s, stamp_s = [], []
        record = GenerationRecord("x.png", "tiny-sd15", info.base_model_sha256)
        for _ in range(args.images):
            start = time.perf_counter()
            gate.check(image)
            gate_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            stamp_image(lib, image, "png", record)
            stamp_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        generate_images(lib, decision, prompt_text, tmp / "out", options, gate=gate)
        whole = (time.perf_counter() - start) / args.images

    print(
        f"tiny-sd15 at {size} px, {args.steps} steps, guidance 7, one adapter, "
        f"{args.images} images (medians)"
    )
    print(f"bare diffusers call:          {bare_s * 1000:8.1f} ms an image")
    print(f"likeness sampling:            {ours_s * 1000:8.1f} ms an image")
    print(
        f"ratio likeness / bare:        {ours_s / bare_s:8.3f} (target <= 1.05, excluding the gate)"
    )
    print(f"safety gate (faces + NudeNet): {statistics.median(gate_s) * 1000:7.1f} ms an image")
    print(f"provenance (mark, PDQ, sign):  {statistics.median(stamp_s) * 1000:7.1f} ms an image")
    print(f"whole generate_images:        {whole * 1000:8.1f} ms an image (model loaded once)")


if __name__ == "__main__":
    main()
