"""``likeness models``: the base models adapters are trained on and images generated with."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err,
    open_library,
    print_json,
)

app = typer.Typer(help="Base models: built-in tiny models, hub ids, folders, single files.")


@app.callback(invoke_without_command=True)
def models_default(ctx: typer.Context, home: HomeOption = None, as_json: JsonOption = False):
    """List base models (same as `models list`)."""
    if ctx.invoked_subcommand is None:
        models_list(home, as_json)


@app.command("list")
def models_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List base models: the built-in tiny ones and those you added."""
    from likeness.models.registry import list_models

    models = list_models(open_library(home))
    if as_json:
        print_json([m.as_json() for m in models])
        return
    table = Table("name", "family", "kind", "source", "resolution", "location")
    for m in models:
        table.add_row(m.name, m.family.name, str(m.kind), m.source, str(m.resolution), m.location)
    console.print(table)


@app.command("add")
def models_add(
    name: Annotated[str, typer.Argument(help="A name to refer to it by.")],
    source: Annotated[
        str, typer.Argument(help="A local diffusers folder, a .safetensors file, or a hub id.")
    ],
    hub: Annotated[
        bool, typer.Option("--hub", help="SOURCE is a hub id: download it (online) into the cache.")
    ] = False,
    family: Annotated[
        str | None, typer.Option(help="Expected family (sd15, sdxl); checked, not forced.")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Component configs (a diffusers folder without weights) for a single "
            "file whose architecture is not its family's standard one."
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a base model. A single file loads offline with the family's standard configs."""
    from likeness.models.registry import add_model

    # A hub download shows the hub client's own progress bars; a local model is hashed.
    waiting = nullcontext() if hub else err.status("checking the model and hashing its weights…")
    with waiting:
        model = add_model(
            open_library(home), name, source, hub=hub, family_name=family, config_dir=config
        )
    if as_json:
        print_json(model.as_json())
    else:
        console.print(
            f"added {model.name}: {model.family.name} ({model.source}), sha256 {model.sha256[:16]}…"
        )


@app.command("info")
def models_info(name: str, home: HomeOption = None) -> None:
    """Show one base model as JSON."""
    from likeness.models.registry import get_model

    print_json(get_model(open_library(home), name).as_json())


@app.command("remove")
def models_remove(name: str, home: HomeOption = None) -> None:
    """Forget a base model you added (its files are left where they are)."""
    from likeness.models.registry import remove_model

    remove_model(open_library(home), name)
    console.print(f"removed {name}")
