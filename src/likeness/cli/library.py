"""Commands on the library as a whole: init, import, faces, demo."""

from __future__ import annotations

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
    progress_bar,
)
from likeness.errors import EXIT_PROBLEMS


def init(home: HomeOption = None) -> None:
    """Create the library home (catalog, vault, signing keys). Other commands do this too."""
    from likeness.provenance.identity import signing_identity

    lib = open_library(home)
    fingerprint = lib.keys.public_key_bytes().hex()[:16]
    signing_identity(lib)  # the local CA and the Content Credentials signer
    console.print(f"Library ready at [bold]{lib.home}[/bold] (signing key {fingerprint}…)")
    console.print("Content Credentials root: `likeness provenance export-trust --out root.pem`")


def import_(
    path: Annotated[Path, typer.Argument(help="A folder, or a Google Photos Takeout export.")],
    home: HomeOption = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: all cores).")
    ] = None,
    thorough: Annotated[
        bool, typer.Option(help="Always search for small faces (slower on large photos).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import photos: find faces, group them into people. Re-running skips unchanged files."""
    from rich.progress import TextColumn

    from likeness import workflows
    from likeness.faces.mtcnn import unavailable_reason

    lib = open_library(home)
    if not thorough and (why := unavailable_reason()):
        err.print(
            f"[yellow]note:[/yellow] {why}. Small faces in large photos are searched for "
            "with the slower upsampled HOG pass, where it pays."
        )
    # No refresh thread (auto_refresh=False): the bar redraws from the progress callback, and
    # the importer's worker processes fork from a process that runs no other thread.
    bar = progress_bar("importing", as_json, TextColumn("{task.fields[rate]}"), auto_refresh=False)
    task = bar.add_task("import", total=None, rate="")
    first_done: list[int] = []

    def progress(done: int, total: int) -> None:
        if not first_done:
            first_done.append(done)  # files skipped as unchanged do not count towards the rate
        elapsed = bar.tasks[0].elapsed or 0.0
        fresh = done - first_done[0]
        rate = f"{fresh / elapsed:.1f} photos/s" if elapsed > 0 and fresh > 0 else ""
        bar.update(task, completed=done, total=total, rate=rate)
        bar.refresh()

    with bar:
        request = workflows.ImportRequest(str(path), thorough, workers)
        report = workflows.import_(lib, request, progress=progress)
    if as_json:
        print_json(report.as_json())
    else:
        console.print(
            f"{report.kind} import: {report.files} files, {report.added} new photos, "
            f"{report.unchanged} unchanged, {report.duplicates} exact duplicates, "
            f"{report.near_duplicates} near duplicates, {report.faces} faces, "
            f"{report.grouped} faces grouped in {report.seconds:.1f}s"
            + (
                f"; {report.withheld} faces of people who asked never to be generated were not kept"
                if report.withheld
                else ""
            )
        )
        for p in report.problems:
            err.print(f"[yellow]problem:[/yellow] {p.display_path}: {p.reason}")
        if report.problems:
            err.print(f"completed with {len(report.problems)} problems")
    if report.problems:
        raise typer.Exit(EXIT_PROBLEMS)


def faces(
    home: HomeOption = None,
    person: Annotated[int | None, typer.Option(help="Only this person's faces.")] = None,
    unassigned: Annotated[bool, typer.Option(help="Only faces with no person.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List faces (photo, box in upright pixels, person, quality)."""
    from likeness.faces.listing import list_faces

    found = list_faces(open_library(home), person, unassigned)
    if as_json:
        print_json(found)
        return
    table = Table("id", "person", "quality", "box", "photo")
    for f in found:
        table.add_row(
            str(f["id"]),
            str(f["person"] or "-"),
            f"{f['quality']:.2f}",
            ",".join(map(str, f["box"])),
            f["photo"] or "",
        )
    console.print(table)


def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the demo's photos, library and output.")
    ] = Path("likeness-demo"),
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Then serve the demo library, with a one-time sign-in link."),
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --serve.")] = 8765,
) -> None:
    """Walk the product as far as it is built, on sample photos that ship with scikit-image."""
    from likeness.demo import run_demo

    code = run_demo(out, console)
    if code or not serve:
        raise typer.Exit(code)
    from likeness.cli.serve import run_server
    from likeness.server import create_app
    from likeness.store import Library

    with Library.open(out.absolute() / "library") as lib:
        run_server(create_app(lib), "127.0.0.1", port, one_time_link=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command("import")(import_)
    app.command("faces")(faces)
    app.command()(demo)
