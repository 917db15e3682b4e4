"""Video overhead: likeness vs a bare diffusers AnimateDiff call, same base model, motion
module, adapter, seed, frames and steps, and the cost per frame of the safety gate and
provenance.

- bare: the tiny model built by diffusers, ``AnimateDiffPipeline.from_pipe`` with the tiny
  motion module, the person's adapter exported and loaded with ``load_lora_weights``,
  ``pipe(prompt, num_frames=...)``;
- likeness: the model and motion module through likeness's loaders, the adapter decrypted in
  memory, the sampling call ``generate_video`` makes (``sample_one`` with ``frames``);
- per frame: ``SafetyGate.check_clip`` (faces in every frame, NudeNet on every 4th) and
  ``stamp_clip`` (watermark and PDQ of every frame, H.264, C2PA signature, manifest store);
  and a whole ``generate_video`` run per clip.
Runs alternate; medians are compared. On a GPU, ``--device cuda`` (the tiny models measure
the fixed costs; a real model's sampling dwarfs them).

    .venv/bin/python benchmarks/video_overhead.py [--clips 4] [--frames 16] [--steps 10]
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
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import torch

    from likeness.adapters.manage import load_into_pipeline
    from likeness.generate.sampling import sample_one
    from likeness.generate.styles import STYLES
    from likeness.generate.video import VideoOptions, authorize_video, generate_video
    from likeness.models.families import FAMILIES
    from likeness.models.loading import load_pipeline
    from likeness.models.motion import load_motion_adapter, resolve_motion, tiny_motion_adapter
    from likeness.models.registry import get_model
    from likeness.models.tiny import TINY_UNET_BLOCKS, tiny_pipeline
    from likeness.provenance.clips import stamp_clip
    from likeness.provenance.credentials import GenerationRecord
    from likeness.safety.gate import SafetyGate

    sd15 = FAMILIES["sd15"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lib, person, exported, info = trained_astronaut(tmp, "generate-video")
        style = STYLES["watercolor"]
        prompt = style.template.format(prompt=f"a photo of {info.trigger} person dancing")
        model = get_model(lib, "tiny-sd15")
        size = model.resolution

        bare = (
            sd15.video_pipeline_type()
            .from_pipe(
                tiny_pipeline("tiny-sd15"),
                motion_adapter=tiny_motion_adapter(sd15, TINY_UNET_BLOCKS),
            )
            .to(args.device)
        )
        bare.set_progress_bar_config(disable=True)
        bare.load_lora_weights(str(exported))
        base = load_pipeline(model, args.device)
        motion = load_motion_adapter(resolve_motion(None, model), model, TINY_UNET_BLOCKS)
        ours = sd15.video_pipeline_type().from_pipe(base, motion_adapter=motion).to(args.device)
        ours.set_progress_bar_config(disable=True)
        name = load_into_pipeline(lib, ours, info)

        def bare_call(seed: int):
            bare(
                prompt,
                negative_prompt=style.negative,
                num_frames=args.frames,
                width=size,
                height=size,
                num_inference_steps=args.steps,
                guidance_scale=7.5,
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
                guidance=7.5,
                generator=torch.Generator().manual_seed(seed),
                frames=args.frames,
            )

        bare_call(0), our_call(0)  # warm-up
        times: dict[str, list[float]] = {"bare": [], "likeness": []}
        for seed in range(args.clips):
            for label, call in (("bare", bare_call), ("likeness", our_call))[
                :: 1 if seed % 2 else -1
            ]:
                start = time.perf_counter()
                call(seed)
                times[label].append(time.perf_counter() - start)
        bare_s, ours_s = statistics.median(times["bare"]), statistics.median(times["likeness"])

        prompt_text = f"@{person} dancing"
        options = VideoOptions(
            steps=args.steps, frames=args.frames, style="watercolor", count=args.clips
        )
        decision = authorize_video(lib, prompt_text, options)
        gate = SafetyGate(lib, decision)
        frames = our_call(1)
        gate_s, stamp_s = [], []
        record = GenerationRecord("x.mp4", "tiny-sd15", info.base_model_sha256)
        for _ in range(args.clips):
            start = time.perf_counter()
            gate.check_clip(frames)
            gate_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            stamp_clip(lib, frames, 8, "mp4", record)
            stamp_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        generate_video(lib, decision, prompt_text, tmp / "out", options, gate=gate)
        whole = (time.perf_counter() - start) / args.clips

    n = args.frames
    print(
        f"tiny-sd15 + tiny motion module at {size} px, {n} frames, {args.steps} steps, "
        f"guidance 7.5, one adapter, {args.clips} clips (medians), {args.device}"
    )
    print(f"bare AnimateDiff call:        {bare_s * 1000:8.1f} ms a clip")
    print(f"likeness sampling:            {ours_s * 1000:8.1f} ms a clip")
    print(
        f"ratio likeness / bare:        {ours_s / bare_s:8.3f} (target <= 1.05, excluding the gate)"
    )
    gate_m, stamp_m = statistics.median(gate_s), statistics.median(stamp_s)
    print(f"safety gate (every frame):    {gate_m * 1000 / n:8.1f} ms a frame")
    print(f"provenance (mark, PDQ, H.264, sign): {stamp_m * 1000 / n:5.1f} ms a frame")
    print(
        f"whole generate_video:         {whole * 1000:8.1f} ms a clip ({whole / bare_s:.2f}x the "
        f"bare call: the models, motion module and adapter loaded once for {args.clips} clips, "
        "the gate asked before every step, every frame judged and stamped)"
    )
    print(
        f"gate + provenance against the bare call: {(gate_m + stamp_m) / bare_s:.2f} of a clip's "
        "sampling time (on a GPU with a real model, sampling is seconds a frame)"
    )


if __name__ == "__main__":
    main()
