"""The ``likeness`` command line: one command per user task, each a thin call into the library.

Exit codes: 0 done; 1 failed (bad path, unknown id, refused edit); 2 usage error;
3 import completed with problems (the files are listed and were skipped).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Local-first personalized image generation from your own photo library.",
    no_args_is_help=True,
    add_completion=False,
)
people_app = typer.Typer(help="List and edit the people found in your photos.")
app.add_typer(people_app, name="people")

console = Console()
err = Console(stderr=True)

EXIT_FAILED = 1
EXIT_PROBLEMS = 3

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", envvar="LIKENESS_HOME", help="Library home (default: user data dir)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _open(home: Path | None):
    from likeness.store import Library

    return Library.open(home)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_FAILED)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.command()
def init(home: HomeOption = None) -> None:
    """Create the library home (catalog and vault). Other commands do this on first use too."""
    lib = _open(home)
    console.print(f"Library ready at [bold]{lib.home}[/bold]")


@app.command("import")
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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from likeness.faces.dlib_backend import DetectionSettings
    from likeness.importing import import_photos

    lib = _open(home)
    # No refresh thread (auto_refresh=False): the bar redraws from the progress callback, and
    # the importer's worker processes fork from a process that runs no other thread.
    bar = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
        auto_refresh=False,
    )
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

    try:
        with bar:
            report = import_photos(
                lib,
                path,
                workers=workers,
                settings=DetectionSettings(thorough=thorough),
                progress=progress,
            )
    except (FileNotFoundError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(report.as_json())
    else:
        console.print(
            f"{report.kind} import: {report.files} files, {report.added} new photos, "
            f"{report.unchanged} unchanged, {report.duplicates} exact duplicates, "
            f"{report.near_duplicates} near duplicates, {report.faces} faces, "
            f"{report.grouped} faces grouped in {report.seconds:.1f}s"
        )
        for p in report.problems:
            err.print(f"[yellow]problem:[/yellow] {p.display_path}: {p.reason}")
        if report.problems:
            err.print(f"completed with {len(report.problems)} problems")
    if report.problems:
        raise typer.Exit(EXIT_PROBLEMS)


@people_app.callback(invoke_without_command=True)
def people_list(
    ctx: typer.Context,
    home: HomeOption = None,
    show_hidden: Annotated[bool, typer.Option("--all", help="Include hidden people.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List people (largest first). Subcommands edit them."""
    if ctx.invoked_subcommand is not None:
        return
    from likeness.people.manage import list_people

    people = list_people(_open(home), include_hidden=show_hidden)
    if as_json:
        _print_json([p.as_json() for p in people])
        return
    table = Table("id", "name", "faces", "photos", "suggested names", "")
    for p in people:
        flags = " ".join(f for f, on in (("me", p.is_owner), ("hidden", p.hidden)) if on)
        table.add_row(
            str(p.id),
            p.name or "-",
            str(p.face_count),
            str(p.photo_count),
            ", ".join(p.suggested_names),
            flags,
        )
    console.print(table)


def _edit(fn, *args):
    from likeness.people.manage import PeopleError

    try:
        return fn(*args)
    except PeopleError as exc:
        raise _fail(str(exc)) from None


def _ids(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace(" ", ",").split(",") if x]
    except ValueError:
        raise typer.BadParameter(f"expected face ids like 12,13,14, got {text!r}") from None


@people_app.command("name")
def people_name(person: int, name: str, home: HomeOption = None) -> None:
    """Name a person."""
    from likeness.people.manage import name_person

    _edit(name_person, _open(home), person, name)
    console.print(f"person {person} is now {name!r}")


@people_app.command("merge")
def people_merge(target: int, other: int, home: HomeOption = None) -> None:
    """Merge OTHER into TARGET (TARGET keeps its id and name)."""
    from likeness.people.manage import merge_people

    moved = _edit(merge_people, _open(home), target, other)
    console.print(f"merged person {other} into {target} ({moved} faces)")


@people_app.command("split")
def people_split(
    person: int,
    faces: Annotated[str, typer.Option(help="Face ids to split off, e.g. 12,13.")],
    name: Annotated[str | None, typer.Option(help="Name for the new person.")] = None,
    home: HomeOption = None,
) -> None:
    """Split faces off a person into a new person."""
    from likeness.people.manage import split_person

    new_id = _edit(split_person, _open(home), person, _ids(faces), name)
    console.print(f"split into new person {new_id}")


@people_app.command("move")
def people_move(
    faces: Annotated[str, typer.Option(help="Face ids to move, e.g. 12,13.")],
    to: Annotated[str, typer.Option(help="Target person id, or 'none' for nobody.")],
    home: HomeOption = None,
) -> None:
    """Move faces to a person (or to nobody); they stay there across re-clusters."""
    from likeness.people.manage import move_faces

    target = None if to.lower() == "none" else int(to)
    moved = _edit(move_faces, _open(home), _ids(faces), target)
    console.print(f"moved {moved} faces")


@people_app.command("hide")
def people_hide(
    person: int,
    unhide: Annotated[bool, typer.Option("--unhide", help="Show the person again.")] = False,
    home: HomeOption = None,
) -> None:
    """Hide a person from the list (strangers, posters...)."""
    from likeness.people.manage import hide_person

    _edit(hide_person, _open(home), person, not unhide)
    console.print(f"person {person} {'shown' if unhide else 'hidden'}")


@people_app.command("me")
def people_me(person: int, home: HomeOption = None) -> None:
    """Mark a person as the library owner (verified later by consent enrolment)."""
    from likeness.people.manage import set_owner

    _edit(set_owner, _open(home), person)
    console.print(f"person {person} marked as you (the library owner)")


@people_app.command("show")
def people_show(
    person: int,
    out: Annotated[Path | None, typer.Option(help="Image to write (default: vault).")] = None,
    home: HomeOption = None,
) -> None:
    """Write a contact sheet of a person's faces and print its path."""
    from likeness.people.contact_sheet import write_contact_sheet

    lib = _open(home)
    target = out or lib.vault / "contact-sheets" / f"person-{person}.jpg"
    drawn = write_contact_sheet(lib, person, target)
    if drawn == 0:
        raise _fail(f"person {person} has no readable faces")
    console.print(str(target))


@people_app.command("recluster")
def people_recluster(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Re-group every face from scratch, keeping names, merges, splits and moves."""
    from likeness.people.manage import recluster

    stats = recluster(_open(home))
    if as_json:
        _print_json(stats)
    else:
        console.print(
            f"{stats['faces']} faces into {stats['people']} people "
            f"({stats['created']} new, {stats['removed']} removed, {stats['moved']} faces moved)"
        )


@app.command("faces")
def faces_cmd(
    home: HomeOption = None,
    person: Annotated[int | None, typer.Option(help="Only this person's faces.")] = None,
    unassigned: Annotated[bool, typer.Option(help="Only faces with no person.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List faces (photo, box in upright pixels, person, quality)."""
    from likeness.faces.listing import list_faces

    faces = list_faces(_open(home), person, unassigned)
    if as_json:
        _print_json(faces)
        return
    table = Table("id", "person", "quality", "box", "photo")
    for f in faces:
        table.add_row(
            str(f["id"]),
            str(f["person"] or "-"),
            f"{f['quality']:.2f}",
            ",".join(map(str, f["box"])),
            f["photo"] or "",
        )
    console.print(table)


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the demo's photos, library and output.")
    ] = Path("likeness-demo"),
) -> None:
    """Walk the product as far as it is built, on sample photos that ship with scikit-image."""
    from likeness.demo import run_demo

    code = run_demo(out, console)
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
