"""The ``likeness`` command line: one command per user task, each a thin call into the library.

Exit codes: 0 done; 1 failed (bad path, unknown id, refused edit); 2 usage error;
3 import completed with problems (the files are listed and were skipped).
"""

from __future__ import annotations

import json
import os
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
consent_app = typer.Typer(help="Consent grants: who may use whose likeness, for what.")
app.add_typer(consent_app, name="consent")
audit_app = typer.Typer(help="The hash-chained audit log of grants, revocations, decisions.")
app.add_typer(audit_app, name="audit")

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


def _progress_bar(label: str, as_json: bool, *extra_columns, auto_refresh: bool = True):
    """A Rich progress bar on stderr (none with --json): label, bar, done/total, the extra
    columns, elapsed time and ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
        auto_refresh=auto_refresh,
    )


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.command()
def init(home: HomeOption = None) -> None:
    """Create the library home (catalog, vault, signing key). Other commands do this too."""
    lib = _open(home)
    fingerprint = lib.keys.public_key_bytes().hex()[:16]
    console.print(f"Library ready at [bold]{lib.home}[/bold] (signing key {fingerprint}…)")


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
    from rich.progress import TextColumn

    from likeness.faces.dlib_backend import DetectionSettings
    from likeness.importing import import_photos

    lib = _open(home)
    # No refresh thread (auto_refresh=False): the bar redraws from the progress callback, and
    # the importer's worker processes fork from a process that runs no other thread.
    bar = _progress_bar("importing", as_json, TextColumn("{task.fields[rate]}"), auto_refresh=False)
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


@people_app.command("minor")
def people_minor(
    person: int,
    unset: Annotated[bool, typer.Option("--unset", help="Clear the mark.")] = False,
    home: HomeOption = None,
) -> None:
    """Mark a person as a minor: never generated photoreal, whatever grants exist."""
    from likeness.people.manage import set_minor

    _edit(set_minor, _open(home), person, not unset)
    console.print(f"person {person} {'is no longer' if unset else 'is now'} marked as a minor")


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


def _grant_error(fn, *args, **kwargs):
    from likeness.consent.grants import GrantError

    try:
        return fn(*args, **kwargs)
    except GrantError as exc:
        raise _fail(str(exc)) from None


@consent_app.command("grant")
def consent_grant(
    person: int,
    scope: Annotated[
        list[str],
        typer.Option(help="train-adapter, generate-stylized, generate-photoreal, export-adapter"),
    ],
    attested: Annotated[
        bool,
        typer.Option(
            help="A signed statement without a live check; it drives only the built-in tiny models."
        ),
    ] = False,
    enrolment: Annotated[
        str | None,
        typer.Option(
            help="A passed live enrolment of this person (`consent enrol`): makes the "
            "grant verified."
        ),
    ] = None,
    grantee: Annotated[str, typer.Option(help="'owner' or 'app:<id>'.")] = "owner",
    expires_days: Annotated[int | None, typer.Option(help="Expire after N days.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a signed consent grant for a person (verified with --enrolment, or attested)."""
    from datetime import timedelta

    from likeness.consent.grants import Scope, Trust, issue_grant

    if attested == (enrolment is not None):
        raise _fail(
            "pass --enrolment ID (a passed live enrolment: verified) or --attested "
            "(a signed statement without a live check), one of the two"
        )
    try:
        scopes = [Scope(x) for x in scope]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    expires = timedelta(days=expires_days) if expires_days else None
    trust = Trust.ATTESTED if attested else Trust.VERIFIED
    grant = _grant_error(
        issue_grant,
        _open(home),
        person,
        scopes,
        trust,
        grantee=grantee,
        expires_in=expires,
        enrolment_id=enrolment,
    )
    if as_json:
        _print_json(grant.as_json(person))
    else:
        console.print(
            f"grant {grant.id} ({grant.trust}) for person {person}: "
            f"{', '.join(map(str, grant.scopes))}"
        )


@consent_app.command("challenge")
def consent_challenge(person: int, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Start a live enrolment: a fresh, random challenge to record yourself following."""
    from likeness.consent.enrolment import SESSION_TTL, EnrolmentError, start_enrolment

    try:
        session = start_enrolment(_open(home), person)
    except EnrolmentError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(session.as_json())
        return
    minutes = int(SESSION_TTL.total_seconds() // 60)
    console.print(
        f"Session [bold]{session.id}[/bold] (valid {minutes} minutes, once). "
        "Record a video of your face, close to the camera, following:"
    )
    for line in session.instructions():
        console.print(f"  {line}")
    console.print(f"then: likeness consent enrol {person} --session {session.id} --video FILE")


@consent_app.command("enrol")
def consent_enrol(
    person: int,
    session: Annotated[str, typer.Option(help="The id `consent challenge` printed.")],
    video: Annotated[Path, typer.Option(help="Your recording of that challenge.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a recording of a challenge; on success, `consent grant --enrolment ID` can follow."""
    from likeness.consent.enrolment import EnrolmentError, enrol_from_video

    bar = _progress_bar("checking frames", as_json)
    task = bar.add_task("enrol", total=None)

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    try:
        with bar:
            result = enrol_from_video(_open(home), person, session, video, progress=progress)
    except EnrolmentError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        _print_json(result.as_json())
    elif result.passed:
        console.print(f"[green]enrolment {result.id} passed[/green]: {result.reason}")
    else:
        err.print(f"[red]enrolment failed[/red]: {result.reason}")
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)


@consent_app.command("list")
def consent_list(
    person: Annotated[int | None, typer.Option(help="Only this person's grants.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List grants, in force or not."""
    from likeness.consent.grants import list_grants

    grants = _grant_error(list_grants, _open(home), person)
    if as_json:
        _print_json([g.as_json(pid) for g, pid in grants])
        return
    from datetime import datetime

    table = Table("grant", "person", "grantee", "scopes", "trust", "expires", "state")
    now = datetime.now()
    for g, pid in grants:
        state = (
            "TAMPERED"
            if not g.signature_valid
            else "revoked"
            if g.revoked_at
            else "expired"
            if not g.in_force(now)
            else "in force"
        )
        table.add_row(
            g.id,
            str(pid) if pid is not None else "(gone)",
            g.grantee,
            ", ".join(map(str, g.scopes)),
            str(g.trust),
            g.expires_at.isoformat() if g.expires_at else "-",
            state,
        )
    console.print(table)


@consent_app.command("show")
def consent_show(grant_id: str, home: HomeOption = None) -> None:
    """Show one grant as JSON (with whether its signature verifies)."""
    from likeness.consent.grants import get_grant

    _print_json(_grant_error(get_grant, _open(home), grant_id).as_json())


@consent_app.command("revoke")
def consent_revoke(
    grant_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the grant record).")] = "",
    home: HomeOption = None,
) -> None:
    """Revoke a grant at once; the person's adapter key is destroyed."""
    from likeness.consent.grants import revoke_grant

    if _grant_error(revoke_grant, _open(home), grant_id, reason):
        console.print(f"grant {grant_id} revoked")
    else:
        console.print(f"grant {grant_id} was already revoked")


@consent_app.command("export")
def consent_export(
    grant_id: str,
    out: Annotated[Path, typer.Option(help="Bundle file to write (holds your face template).")],
    home: HomeOption = None,
) -> None:
    """Export a verified grant to take to another likeness install."""
    from likeness.consent.transfer import export_grant

    bundle = _grant_error(export_grant, _open(home), grant_id)
    out.write_text(json.dumps(bundle, indent=2))
    os.chmod(out, 0o600)
    console.print(f"wrote {out} (it holds your face template: keep it private)")


@consent_app.command("import")
def consent_import(
    bundle: Annotated[Path, typer.Argument(help="A bundle from `consent export`.")],
    person: Annotated[int, typer.Option(help="Who it is in this library.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import a grant signed by another install (recorded here as attested)."""
    from likeness.consent.transfer import import_grant

    try:
        data = json.loads(bundle.read_text())
    except (OSError, ValueError) as exc:
        raise _fail(f"{bundle}: cannot read the bundle: {exc}") from None
    grant = _grant_error(import_grant, _open(home), data, person)
    if as_json:
        _print_json(grant.as_json(person))
    else:
        console.print(f"imported as grant {grant.id} (attested) for person {person}")


@audit_app.command("verify")
def audit_verify(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Check the audit log's hash chain and signed head (exit 1 if anything was changed)."""
    from likeness.consent.audit import verify_audit

    report = verify_audit(_open(home))
    if as_json:
        _print_json(report.__dict__)
    elif report.ok:
        console.print(f"audit log intact: {report.entries} entries")
    else:
        err.print(f"[red]audit log broken:[/red] {report.problem}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(help="Newest N entries.")] = 50,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the newest audit entries."""
    from likeness.consent.audit import list_audit

    entries = list_audit(_open(home), limit)
    if as_json:
        _print_json(entries)
        return
    table = Table("seq", "at", "kind", "details")
    for e in entries:
        table.add_row(str(e["seq"]), e["at"], e["kind"], json.dumps(e["payload"]))
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
