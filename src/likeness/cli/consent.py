"""``likeness consent`` and ``likeness audit``: who may use whose likeness, and the record."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness import clock
from likeness.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err,
    fail,
    open_library,
    print_json,
    progress_bar,
)
from likeness.errors import EXIT_FAILED

app = typer.Typer(help="Consent grants: who may use whose likeness, for what.")
audit_app = typer.Typer(help="The hash-chained audit log of grants, revocations, decisions.")


@app.command("grant")
def consent_grant(
    person: int,
    scope: Annotated[
        list[str],
        typer.Option(
            help="train-adapter, generate-stylized, generate-photoreal, export-adapter, "
            "generate-video"
        ),
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
        raise fail(
            "pass --enrolment ID (a passed live enrolment: verified) or --attested "
            "(a signed statement without a live check), one of the two"
        )
    try:
        scopes = [Scope(x) for x in scope]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    expires = timedelta(days=expires_days) if expires_days else None
    trust = Trust.ATTESTED if attested else Trust.VERIFIED
    grant = issue_grant(
        open_library(home),
        person,
        scopes,
        trust,
        grantee=grantee,
        expires_in=expires,
        enrolment_id=enrolment,
    )
    if as_json:
        print_json(grant.as_json(person))
    else:
        console.print(
            f"grant {grant.id} ({grant.trust}) for person {person}: "
            f"{', '.join(map(str, grant.scopes))}"
        )


@app.command("request")
def consent_request(
    person: int,
    scope: Annotated[
        list[str],
        typer.Option(
            help="train-adapter, generate-stylized, generate-photoreal, export-adapter, "
            "generate-video"
        ),
    ],
    days: Annotated[
        int | None, typer.Option(help="The permission lasts N days (default: until withdrawn).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask a person who consents for themselves (they have an account) for a permission: it
    waits on their page until they approve or deny it."""
    from likeness.consent.grants import OWNER
    from likeness.consent.requests import request_grant

    try:
        asked = request_grant(open_library(home), person, OWNER, scope, days)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    if as_json:
        print_json(asked.as_json())
    else:
        console.print(
            f"request {asked.id} sent to person {person} (waits on their page until "
            f"{clock.local(asked.expires_at):%Y-%m-%d %H:%M})"
        )


@app.command("challenge")
def consent_challenge(person: int, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Start a live enrolment: a fresh, random challenge to record yourself following."""
    from likeness.consent.enrolment import SESSION_TTL, start_enrolment
    from likeness.consent.liveness import THRESHOLDS

    session = start_enrolment(open_library(home), person)
    if as_json:
        print_json(session.as_json())
        return
    minutes = int(SESSION_TTL.total_seconds() // 60)
    # A recording cannot be asked to come closer, as a live page asks: say the size first.
    size = THRESHOLDS.min_face_px
    console.print(
        f"Session [bold]{session.id}[/bold] (valid {minutes} minutes, once). "
        f"Record a video of your face, close to the camera (the face at least {size} px "
        f"wide, over a quarter of a 640 x 480 frame's width), following:"
    )
    for line in session.instructions():
        console.print(f"  {line}")
    console.print(f"then: likeness consent enrol {person} --session {session.id} --video FILE")


@app.command("enrol")
def consent_enrol(
    person: int,
    session: Annotated[str, typer.Option(help="The id `consent challenge` printed.")],
    video: Annotated[Path, typer.Option(help="Your recording of that challenge.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a recording of a challenge; on success, `consent grant --enrolment ID` can follow."""
    from likeness.consent.enrolment import enrol_from_video

    bar = progress_bar("checking frames", as_json)
    task = bar.add_task("enrol", total=None)

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        result = enrol_from_video(open_library(home), person, session, video, progress=progress)
    if as_json:
        print_json(result.as_json())
    elif result.passed:
        console.print(f"[green]enrolment {result.id} passed[/green]: {result.reason}")
    else:
        err.print(f"[red]enrolment failed[/red]: {result.reason}")
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)


@app.command("list")
def consent_list(
    person: Annotated[int | None, typer.Option(help="Only this person's grants.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List grants, in force or not."""

    from likeness.consent.grants import list_grants

    grants = list_grants(open_library(home), person)
    if as_json:
        print_json([g.as_json(pid) for g, pid in grants])
        return
    table = Table("grant", "person", "grantee", "scopes", "trust", "expires", "state")
    now = clock.now()
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


@app.command("show")
def consent_show(grant_id: str, home: HomeOption = None) -> None:
    """Show one grant as JSON (with whether its signature verifies)."""
    from likeness.consent.grants import get_grant

    print_json(get_grant(open_library(home), grant_id).as_json())


@app.command("revoke")
def consent_revoke(
    grant_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the grant record).")] = "",
    home: HomeOption = None,
) -> None:
    """Revoke a grant at once; the person's adapter key is destroyed."""
    from likeness.consent.grants import revoke_grant

    if revoke_grant(open_library(home), grant_id, reason):
        console.print(f"grant {grant_id} revoked")
    else:
        console.print(f"grant {grant_id} was already revoked")


@app.command("export")
def consent_export(
    grant_id: str,
    out: Annotated[Path, typer.Option(help="Bundle file to write (holds your face template).")],
    home: HomeOption = None,
) -> None:
    """Export a verified grant to take to another likeness install."""
    from likeness.consent.transfer import export_grant

    bundle = export_grant(open_library(home), grant_id)
    out.write_text(json.dumps(bundle, indent=2))
    os.chmod(out, 0o600)
    console.print(f"wrote {out} (it holds your face template: keep it private)")


@app.command("import")
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
        raise fail(f"{bundle}: cannot read the bundle: {exc}") from None
    grant = import_grant(open_library(home), data, person)
    if as_json:
        print_json(grant.as_json(person))
    else:
        console.print(f"imported as grant {grant.id} (attested) for person {person}")


@audit_app.command("verify")
def audit_verify(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Check the audit log's hash chain and signed head (exit 1 if anything was changed)."""
    from likeness.consent.audit import verify_audit

    report = verify_audit(open_library(home))
    if as_json:
        print_json(report.__dict__)
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

    entries = list_audit(open_library(home), limit)
    if as_json:
        print_json(entries)
        return
    table = Table("seq", "at", "kind", "details")
    for e in entries:
        table.add_row(str(e["seq"]), e["at"], e["kind"], json.dumps(e["payload"]))
    console.print(table)
