"""``likeness adapter``: a person's personalized LoRA adapters."""

from __future__ import annotations

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
from likeness.workflows import TrainRequest

app = typer.Typer(help="Personalized adapters (LoRA): curate, train, list, export, evaluate.")

ModelOption = Annotated[str, typer.Option("--model", help="Base model (see `likeness models`).")]
MinPhotos = Annotated[int, typer.Option(help="Refuse with fewer usable photos than this.")]
MaxPhotos = Annotated[int, typer.Option(help="Use at most this many photos.")]


def _rules(min_photos: int, max_photos: int):
    from likeness.adapters.curation import CurationRules

    return CurationRules(min_photos=min_photos, max_photos=max_photos)


@app.command("dataset")
def adapter_dataset(
    person: int,
    model: ModelOption = TrainRequest.model,
    min_photos: MinPhotos = TrainRequest.min_photos,
    max_photos: MaxPhotos = TrainRequest.max_photos,
    out: Annotated[Path | None, typer.Option(help="Contact sheet to write.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the photos training would use: a contact sheet and the captions, before training."""
    from likeness.adapters.curation import curate, write_dataset_sheet
    from likeness.models.registry import get_model

    lib = open_library(home)
    base = get_model(lib, model)
    chosen = curate(lib, person, base.resolution, _rules(min_photos, max_photos))
    sheet = out or lib.vault / "datasets" / f"person-{person}.png"
    write_dataset_sheet(chosen, sheet)
    if as_json:
        print_json({**chosen.as_json(), "contact_sheet": str(sheet)})
        return
    console.print(
        f"{len(chosen.examples)} of {chosen.candidates} faces chosen for person {person} "
        f"(trigger word [bold]{chosen.trigger}[/bold], {base.resolution} px crops)"
    )
    for reason, n in chosen.rejected.most_common():
        console.print(f"  not used: {n} {reason}")
    console.print(f"contact sheet: {sheet}")
    console.print(f"captions: {sheet.with_suffix('.txt')}")


@app.command("train")
def adapter_train(
    person: int,
    model: ModelOption = TrainRequest.model,
    steps: Annotated[int | None, typer.Option(help="Training steps (default by model).")] = None,
    rank: Annotated[int | None, typer.Option(help="LoRA rank (default 16).")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate (default by model).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    checkpoint_every: Annotated[
        int | None, typer.Option(help="Steps between checkpoints (for --resume).")
    ] = None,
    train_text_encoder: Annotated[
        bool, typer.Option(help="Adapt the text encoder's attention too.")
    ] = False,
    resume: Annotated[
        bool, typer.Option(help="Continue the interrupted run from its last checkpoint.")
    ] = False,
    min_photos: MinPhotos = TrainRequest.min_photos,
    max_photos: MaxPhotos = TrainRequest.max_photos,
    device: Annotated[str | None, typer.Option(help="cpu, cuda (default: cuda if any).")] = None,
    evaluate: Annotated[
        bool, typer.Option(help="Score the identity after training (samples images).")
    ] = TrainRequest.evaluate,
    eval_steps: Annotated[
        int, typer.Option(min=1, help="Sampling steps per image of the identity score.")
    ] = TrainRequest.eval_steps,
    compute: ComputeOption = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a person's adapter on a base model (asks the consent gate for train-adapter)."""
    from rich.progress import TextColumn

    from likeness.workflows import authorize_train, train

    lib = open_library(home)
    request = TrainRequest(
        person,
        model,
        steps=steps,
        rank=rank,
        learning_rate=lr,
        seed=seed,
        checkpoint_every=checkpoint_every,
        train_text_encoder=train_text_encoder or None,
        min_photos=min_photos,
        max_photos=max_photos,
        resume=resume,
        evaluate=evaluate,
        eval_steps=eval_steps,
        device=device,
    )
    authorize_train(lib, request)  # a refusal before the progress bar shows
    bar = progress_bar("training", as_json, TextColumn("loss {task.fields[loss]}"))
    task = bar.add_task("train", total=steps, loss="-")  # the model's default: at step 1

    def progress(step: int, total: int, loss: float) -> None:
        bar.update(task, completed=step, total=total, loss=f"{loss:.4f}")

    try:
        with bar:
            outcome = train(lib, request, progress=progress, compute=compute)
    except KeyboardInterrupt:
        err.print(
            f"interrupted; `likeness adapter train {person} --model {model} --resume` (with the "
            "same options) continues from the last checkpoint"
        )
        raise typer.Exit(130) from None
    trained, score = outcome.adapter, outcome.identity
    if as_json:
        print_json(outcome.as_json())
        return
    console.print(
        f"adapter [bold]{trained.id}[/bold] for person {person} on {model}: "
        f"{trained.steps} steps"
        + (f" (resumed at step {trained.resumed_from})" if trained.resumed_from else "")
        + f", final loss {trained.losses[-1]:.4f}"
    )
    console.print(f"  weights (encrypted with the person's key): {trained.path}")
    console.print(f"  loss curve: {trained.loss_curve}")
    console.print(f"  trigger word: {trained.trigger}")
    if score is not None:
        console.print(f"  identity: {score.summary()}")


@app.command("eval")
def adapter_eval(
    person: int,
    device: Annotated[str | None, typer.Option(help="cpu, cuda (default: cuda if any).")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Sampling steps per image.")] = 25,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score how much the person's newest adapter's images look like them."""
    from likeness.adapters.identity import evaluate_adapter
    from likeness.adapters.manage import latest_adapter
    from likeness.adapters.training import authorize_training

    lib = open_library(home)
    info = latest_adapter(lib, person)
    decision = authorize_training(lib, person, info.base_model).raise_if_denied("evaluation")
    score = evaluate_adapter(lib, decision, person, info, device=device, steps=steps)
    if as_json:
        print_json({"adapter": info.id, **score.as_json()})
    else:
        console.print(f"adapter {info.id}: {score.summary()}")


@app.command("list")
def adapter_list(
    person: Annotated[int | None, typer.Option(help="Only this person's adapters.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List adapters, newest first."""
    from likeness.adapters.manage import list_adapters

    adapters = list_adapters(open_library(home), person)
    if as_json:
        print_json([a.as_json() for a in adapters])
        return
    table = Table("id", "person", "base model", "status", "steps", "rank", "created")
    for a in adapters:
        table.add_row(
            a.id,
            str(a.person_id) if a.person_id is not None else "(gone)",
            a.base_model,
            a.status,
            f"{a.steps_done}/{a.params.get('steps')}",
            str(a.params.get("rank")),
            a.created_at.isoformat(sep=" "),
        )
    console.print(table)


@app.command("remove")
def adapter_remove(adapter_id: str, home: HomeOption = None) -> None:
    """Delete an adapter (its encrypted weights, checkpoint and loss curve)."""
    from likeness.adapters.manage import remove_adapter

    remove_adapter(open_library(home), adapter_id)
    console.print(f"removed adapter {adapter_id}")


@app.command("export")
def adapter_export(
    person: int,
    out: Annotated[
        Path,
        typer.Option(
            help="The .safetensors file to write, or an existing folder to write "
            "<name>-<format>.safetensors in."
        ),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="diffusers (peft keys) or kohya (ComfyUI, A1111).")
    ] = "diffusers",
    home: HomeOption = None,
) -> None:
    """Export the person's newest adapter as a plain file (asks the gate for export-adapter)."""
    from likeness.workflows import ExportRequest, export

    path = export(open_library(home), ExportRequest(person, str(out), fmt))
    console.print(f"wrote {path} ({fmt}); it is not encrypted: share it only as the person wishes")
    err.print("[yellow]note:[/yellow] revoking consent later cannot reach this copy")
