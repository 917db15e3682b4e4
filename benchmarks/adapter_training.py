"""LoRA training: likeness vs a bare diffusers + peft loop, same tiny model, data and steps.

likeness's run does what the bare loop does plus what the product owes: the consent gate's
``check_in_force`` before every step, sealed checkpoints, the encrypted adapter with its
metadata and the loss-curve PNG. Both start from the curated crops (curation is not timed) and
include loading the model, encoding the crops and saving the adapter. Each run is a fresh
process (so peak memory is its own), alternating, and the medians are compared.

    .venv/bin/python benchmarks/adapter_training.py [--model tiny-sd15] [--steps 300]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path


def _prepare(root: Path) -> tuple[Path, int]:
    from likeness.consent.grants import Scope, Trust, issue_grant
    from likeness.store import Library
    from likeness.testing.libraries import astronaut_library

    home, person = astronaut_library(root)
    with Library.open(home) as lib:
        issue_grant(lib, person, [Scope.TRAIN_ADAPTER], Trust.ATTESTED)
    return home, person


def _curated(lib, person: int, model: str):
    from likeness.adapters.curation import CurationRules, curate
    from likeness.models.registry import get_model

    return curate(lib, person, get_model(lib, model).resolution, CurationRules(min_photos=2))


def _likeness_run(home: str, person: int, model: str, steps: int, queue) -> None:
    from _training import peak_rss_mib
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.store import Library

    lib = Library.open(home)
    data = _curated(lib, person, model)
    params = TrainingParams(steps=steps, learning_rate=1e-3, checkpoint_every=100)
    decision = authorize_training(lib, person, model)
    start = time.perf_counter()
    train_adapter(lib, decision, person, model, params, device="cpu", training_set=data)
    queue.put((time.perf_counter() - start, peak_rss_mib()))


def _bare_run(home: str, person: int, model: str, steps: int, queue) -> None:
    from _training import bare_lora_loop, peak_rss_mib
    from likeness.models.tiny import tiny_pipeline
    from likeness.store import Library

    lib = Library.open(home)
    data = _curated(lib, person, model)
    start = time.perf_counter()
    pipe = tiny_pipeline(model)
    with tempfile.TemporaryDirectory() as out:
        bare_lora_loop(
            pipe,
            [e.image for e in data.examples],
            [e.caption for e in data.examples],
            steps,
            16,
            1e-3,
            Path(out) / "lora.safetensors",
        )
    queue.put((time.perf_counter() - start, peak_rss_mib()))


def _in_child(target, *args) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tiny-sd15", choices=["tiny-sd15", "tiny-sdxl"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, person = _prepare(Path(tmp))
        runs: dict[str, list[tuple[float, float]]] = {"bare": [], "likeness": []}
        for r in range(args.repeats):
            order = ["bare", "likeness"] if r % 2 == 0 else ["likeness", "bare"]
            for name in order:
                target = _bare_run if name == "bare" else _likeness_run
                runs[name].append(_in_child(target, str(home), person, args.model, args.steps))
                print(f"  run {r + 1} {name}: {runs[name][-1][0]:.2f} s", flush=True)
    seconds = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
    memory = {k: max(m for _, m in v) for k, v in runs.items()}
    print(f"model {args.model}, {args.steps} steps, rank 16, 6 crops, {args.repeats} runs each")
    print(f"{'':10} {'median s':>9} {'steps/s':>8} {'peak RSS MiB':>13}")
    for name in ("bare", "likeness"):
        rate = args.steps / seconds[name]
        print(f"{name:10} {seconds[name]:9.2f} {rate:8.1f} {memory[name]:13.0f}")
    print(
        f"time ratio likeness / bare: {seconds['likeness'] / seconds['bare']:.3f} (target <= 1.10)"
    )
    print(f"memory ratio likeness / bare: {memory['likeness'] / memory['bare']:.3f}")


if __name__ == "__main__":
    main()
