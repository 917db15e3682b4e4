"""``likeness generate``: images of consented people from a prompt with @mentions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import (
    ComputeOption,
    HomeOption,
    JsonOption,
    console,
    err,
    open_library,
    print_json,
    progress_bar,
)
from likeness.errors import EXIT_REFUSED
from likeness.generate.run import GenerationOptions, GenerationResult


def parse_size(text: str | None) -> tuple[int | None, int | None]:
    if text is None:
        return None, None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
        return w, h
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT like 512x768, got {text!r}") from None


def generate(
    prompt: Annotated[
        str | None, typer.Argument(help='e.g. "@me and @alice hiking in the Alps"')
    ] = None,
    model: Annotated[
        str, typer.Option(help="Base model (see `likeness models`).")
    ] = GenerationOptions.model,
    n: Annotated[int, typer.Option("-n", "--n", help="How many images.")] = GenerationOptions.count,
    seed: Annotated[
        int, typer.Option(help="Seed of the first image (the next add 1).")
    ] = GenerationOptions.seed,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT (default: the model's).")] = None,
    steps: Annotated[int, typer.Option(help="Denoising steps.")] = GenerationOptions.steps,
    guidance: Annotated[
        float, typer.Option(help="Classifier-free guidance scale.")
    ] = GenerationOptions.guidance,
    style: Annotated[
        str | None, typer.Option(help="A named style (--list-styles); none: a photograph.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the images.")] = Path("."),
    fmt: Annotated[
        str, typer.Option("--format", help="png, jpeg or webp.")
    ] = GenerationOptions.format,
    device: Annotated[str | None, typer.Option(help="cpu, cuda (default: cuda if any).")] = None,
    list_styles: Annotated[
        bool, typer.Option("--list-styles", help="List the styles and exit.")
    ] = False,
    compute: ComputeOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate images of consented people from a prompt with @mentions.

    Every image passes the safety gate before it is written, and leaves signed (Content
    Credentials) and watermarked. Exit 4 when nothing was written (refused).
    """
    from likeness.generate.styles import PHOTO, STYLES
    from likeness.workflows import GenerateRequest, authorize_generate, generate

    if list_styles:
        if as_json:
            print_json([{"name": s.name, "description": s.description} for s in STYLES.values()])
            return
        table = Table("style", "description")
        table.add_row("(none)", PHOTO.description)
        for s in STYLES.values():
            table.add_row(s.name, s.description)
        console.print(table)
        return
    if not prompt:
        raise typer.BadParameter("a prompt is needed (or --list-styles)", param_hint="PROMPT")
    width, height = parse_size(size)
    options = GenerationOptions(
        model=model,
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
    request = GenerateRequest(prompt, options)
    authorize_generate(lib, request)  # a refusal before the progress bars show
    result = with_output_bars(
        lambda progress: generate(lib, request, out, progress=progress, compute=compute),
        lambda index: f"image {index + 1}",
        as_json,
    )
    report_outputs(result, "image", as_json)


def with_output_bars(
    run: Callable[[Callable[[int, int, int], None]], GenerationResult],
    label: Callable[[int], str],
    as_json: bool,
) -> GenerationResult:
    """``run(progress)`` with one progress bar per output (``label(index)``), stepped by
    ``progress(index, step, steps)``."""
    bar = progress_bar(None, as_json)
    tasks: dict[int, int] = {}

    def progress(index: int, step: int, total: int) -> None:
        if index not in tasks:
            tasks[index] = bar.add_task(label(index), total=total)
        bar.update(tasks[index], completed=step)

    with bar:
        return run(progress)


def report_outputs(result: GenerationResult, noun: str, as_json: bool) -> None:
    """Each output written (its path, seed and watermark) or refused (why), as JSON with
    ``--json``; exit 4 when nothing was written."""
    if as_json:
        print_json(result.as_json())
    else:
        for output in result.images:
            if output.allowed:
                console.print(
                    f"{output.path} (seed {output.seed}, watermark {output.watermark_id})"
                )
                for score in output.identity or []:
                    console.print(f"  identity: {score['summary']}")
            else:
                err.print(
                    f"[red]refused[/red] {noun} {output.index + 1} (seed {output.seed}): "
                    f"{output.reason}; nothing was written"
                )
    if not result.written:
        raise typer.Exit(EXIT_REFUSED)
