"""LoRA training at real sizes on a GPU: likeness vs the bare diffusers + peft loop.

SD1.5-sized at 512 px and SDXL-sized at 1024 px: the real architectures, built from the
component configs likeness carries, with random weights (no pretrained model can be downloaded
here; speed and memory do not depend on the weights' values). Rank 16, batch 1, bf16 autocast
(fp16 where bf16 is missing) and gradient checkpointing, as likeness chooses on a GPU; both use
torch's AdamW so the optimizers match. Prints steps/s after warm-up and peak GPU memory.
Targets: likeness >= the bare loop's steps/s; SDXL under 16 GB.

    .venv/bin/python benchmarks/adapter_training_gpu.py [--steps 30] [--family sd15 sdxl]
    .venv/bin/python benchmarks/adapter_training_gpu.py --tiny --steps 4   # CPU check
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

WARMUP = 3


def random_pipeline(family_name: str, dtype, device: str = "cpu"):
    """The family's full-size pipeline with random weights, from the carried configs, made
    on ``device`` (initialising 2.6 billion weights on a GPU takes seconds, not minutes)."""
    import torch

    from likeness.models.families import family
    from likeness.testing.models import full_size_components

    torch.manual_seed(0)
    with torch.device(device):
        parts = full_size_components(family_name)
    return family(family_name).pipeline_type()(**parts).to(dtype=dtype)


def _peak_reset(device: str) -> None:
    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    from _training import peak_rss_mib

    return peak_rss_mib() / 1024


def bench_family(name: str, steps: int, tiny: bool, device: str, workdir: Path) -> dict:
    """Train on the astronaut's curated photos through likeness (gate, verified grant from a
    rendered live enrolment, registry, checkpoints, encryption), then the bare loop."""
    import torch

    from _training import bare_lora_loop
    from likeness.adapters.curation import CurationRules, curate
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.consent.grants import Scope
    from likeness.models.loading import load_pipeline
    from likeness.models.registry import add_model
    from likeness.models.tiny import tiny_pipeline
    from likeness.store import Library
    from likeness.testing.libraries import astronaut_library, verified_grant

    gpu = device.startswith("cuda")
    dtype = torch.float32
    if gpu:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    home, person = astronaut_library(workdir / f"{name}-library")
    lib = Library.open(home)
    verified_grant(lib, person, [Scope.TRAIN_ADAPTER], workdir)
    pipe = tiny_pipeline(f"tiny-{name}") if tiny else random_pipeline(name, dtype, device)
    pipe.save_pretrained(workdir / f"{name}-model")  # as a user's diffusers folder
    del pipe
    model = add_model(lib, f"{name}-random", str(workdir / f"{name}-model"))
    decision = authorize_training(lib, person, model.name)
    assert decision.allowed, decision.reason
    data = curate(lib, person, model.resolution, CurationRules(min_photos=2))
    _peak_reset(device)
    marks: list[float] = []

    def progress(step: int, total: int, loss: float) -> None:
        if step in (WARMUP, total):
            if gpu:
                torch.cuda.synchronize()
            marks.append(time.perf_counter())

    params = TrainingParams(
        steps=steps, learning_rate=1e-4, checkpoint_every=10**9, use_8bit_adam=False
    )
    train_adapter(
        lib,
        decision,
        person,
        model.name,
        params,
        device=device,
        training_set=data,
        progress=progress,
    )
    ours = {"steps_s": (steps - WARMUP) / (marks[1] - marks[0]), "peak_gib": _peak_gib(device)}

    _peak_reset(device)
    bare_pipe = load_pipeline(model, device, dtype)
    seconds = bare_lora_loop(
        bare_pipe,
        [e.image for e in data.examples],
        [e.caption for e in data.examples],
        steps,
        16,
        1e-4,
        workdir / f"{name}-bare.safetensors",
        device=device,
        dtype=dtype,
        gradient_checkpointing=gpu,
        warmup=WARMUP,
    )
    bare = {"steps_s": (steps - WARMUP) / seconds, "peak_gib": _peak_gib(device)}
    del bare_pipe
    lib.close()
    _peak_reset(device)
    return {"family": name, "resolution": model.resolution, "likeness": ours, "bare": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--family", nargs="+", default=["sd15", "sdxl"])
    parser.add_argument("--tiny", action="store_true", help="the tiny models on the CPU")
    args = parser.parse_args()
    import torch

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    if args.steps <= WARMUP:
        sys.exit(f"--steps must be more than the {WARMUP} warm-up steps")
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.family:
            r = bench_family(name, args.steps, args.tiny, device, Path(tmp))
            ours, bare = r["likeness"], r["bare"]
            print(
                f"{name} at {r['resolution']} px, rank 16, {args.steps} steps: "
                f"likeness {ours['steps_s']:.2f} steps/s, peak {ours['peak_gib']:.2f} GiB; "
                f"bare loop {bare['steps_s']:.2f} steps/s, peak {bare['peak_gib']:.2f} GiB; "
                f"speed ratio {ours['steps_s'] / bare['steps_s']:.3f} (target >= 1.0)"
                + ("; SDXL target < 16 GiB" if name == "sdxl" else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
