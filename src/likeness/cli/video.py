"""``likeness video``: short clips of consented people from a prompt with @mentions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import (
    ComputeOption,
    HomeOption,
    JsonOption,
    open_library,
)
from likeness.cli.generate import parse_size, report_outputs, with_output_bars
from likeness.generate.video import VideoOptions


def video(
    prompt: Annotated[str, typer.Argument(help='e.g. "@me and @alice dancing on a beach"')],
    model: Annotated[
        str, typer.Option(help="Base model (see `likeness models`).")
    ] = VideoOptions.model,
    motion: Annotated[
        str | None,
        typer.Option(
            help="Motion module: a hub id in the local cache, a diffusers folder or a single "
            ".safetensors/.ckpt file (default: the built-in tiny one, for the tiny models)."
        ),
    ] = None,
    frames: Annotated[int, typer.Option(help="Frames in the clip.")] = VideoOptions.frames,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = VideoOptions.fps,
    n: Annotated[int, typer.Option("-n", "--n", help="How many clips.")] = VideoOptions.count,
    seed: Annotated[
        int, typer.Option(help="Seed of the first clip (the next add 1).")
    ] = VideoOptions.seed,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT (default: the model's).")] = None,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = VideoOptions.steps,
    guidance: Annotated[
        float, typer.Option(help="Classifier-free guidance scale.")
    ] = VideoOptions.guidance,
    style: Annotated[
        str | None, typer.Option(help="A named style (`generate --list-styles`).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the clips.")] = Path("."),
    fmt: Annotated[
        str, typer.Option("--format", help="mp4 (H.264) or webp (animated).")
    ] = VideoOptions.format,
    device: Annotated[str | None, typer.Option(help="cpu, cuda (default: cuda if any).")] = None,
    compute: ComputeOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate short clips of people who consented to video (their generate-video grant).

    Every frame's faces pass the safety gate before a clip is written; it leaves signed
    (Content Credentials in the MP4), watermarked in every frame and fingerprinted. Exit 4
    when nothing was written (refused).
    """
    from likeness.workflows import VideoRequest, authorize_video, generate_video

    width, height = parse_size(size)
    options = VideoOptions(
        model=model,
        motion=motion,
        frames=frames,
        fps=fps,
        count=n,
        seed=seed,
        width=width,
        height=height,
        steps=steps,
        guidance=guidance,
        style=style,
        format=fmt,
        device=device,
    )
    lib = open_library(home)
    request = VideoRequest(prompt, options)
    authorize_video(lib, request)  # a refusal before the progress bars show
    result = with_output_bars(
        lambda progress: generate_video(lib, request, out, progress=progress, compute=compute),
        # one bar a clip: its frames are denoised together
        lambda index: f"clip {index + 1} ({frames} frames)",
        as_json,
    )
    report_outputs(result, "clip", as_json)
