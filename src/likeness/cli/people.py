"""``likeness people``: list and edit the people found in your photos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import (
    HomeOption,
    JsonOption,
    console,
    fail,
    open_library,
    parse_ids,
    print_json,
)

app = typer.Typer(help="List and edit the people found in your photos.")


@app.callback(invoke_without_command=True)
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

    people = list_people(open_library(home), include_hidden=show_hidden)
    if as_json:
        print_json([p.as_json() for p in people])
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


@app.command("name")
def people_name(person: int, name: str, home: HomeOption = None) -> None:
    """Name a person."""
    from likeness.people.manage import name_person

    name_person(open_library(home), person, name)
    console.print(f"person {person} is now {name!r}")


@app.command("merge")
def people_merge(target: int, other: int, home: HomeOption = None) -> None:
    """Merge OTHER into TARGET (TARGET keeps its id and name)."""
    from likeness.people.merges import merge_people

    merged = merge_people(open_library(home), target, other)
    console.print(
        f"merged person {other} into {target} ({merged.faces_moved} faces); "
        f"undo with: likeness people undo-merge {merged.id}"
    )


@app.command("merges")
def people_merges(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the merges of the last week that can still be undone."""
    from likeness.people.merges import recent_merges

    merges = recent_merges(open_library(home))
    if as_json:
        print_json([m.as_json() for m in merges])
        return
    table = Table("id", "merged", "into", "faces", "when")
    for m in merges:
        table.add_row(
            str(m.id),
            f"{m.other_name or '-'} ({m.other_id})",
            f"{m.target_name or '-'} ({m.target_id})",
            str(m.faces_moved),
            m.merged_at.isoformat(timespec="minutes"),
        )
    console.print(table)


@app.command("undo-merge")
def people_undo_merge(merge: int, home: HomeOption = None) -> None:
    """Undo merge MERGE: the merged person comes back with their faces, permissions and
    adapters."""
    from likeness.people.merges import undo_merge

    undone = undo_merge(open_library(home), merge)
    elsewhere = (
        f"; {undone.faces_elsewhere} moved elsewhere since" if undone.faces_elsewhere else ""
    )
    faces = f"{undone.faces_restored} face{'' if undone.faces_restored == 1 else 's'}"
    console.print(f"person {undone.person_id} is back with {faces}{elsewhere}")


@app.command("split")
def people_split(
    person: int,
    faces: Annotated[str, typer.Option(help="Face ids to split off, e.g. 12,13.")],
    name: Annotated[str | None, typer.Option(help="Name for the new person.")] = None,
    home: HomeOption = None,
) -> None:
    """Split faces off a person into a new person."""
    from likeness.people.manage import split_person

    new_id = split_person(open_library(home), person, parse_ids(faces), name)
    console.print(f"split into new person {new_id}")


def _target(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(
            f"expected a person id or 'none', got {text!r}", param_hint="--to"
        ) from None


@app.command("move")
def people_move(
    faces: Annotated[str, typer.Option(help="Face ids to move, e.g. 12,13.")],
    to: Annotated[str, typer.Option(help="Target person id, or 'none' for nobody.")],
    home: HomeOption = None,
) -> None:
    """Move faces to a person (or to nobody); they stay there across re-clusters."""
    from likeness.people.manage import move_faces

    target = _target(to)
    moved = move_faces(open_library(home), parse_ids(faces), target)
    console.print(f"moved {moved} faces")


@app.command("hide")
def people_hide(
    person: int,
    unhide: Annotated[bool, typer.Option("--unhide", help="Show the person again.")] = False,
    home: HomeOption = None,
) -> None:
    """Hide a person from the list (strangers, posters...)."""
    from likeness.people.manage import hide_person

    hide_person(open_library(home), person, not unhide)
    console.print(f"person {person} {'shown' if unhide else 'hidden'}")


@app.command("me")
def people_me(person: int, home: HomeOption = None) -> None:
    """Mark a person as the library owner (verified later by consent enrolment)."""
    from likeness.people.manage import set_owner

    set_owner(open_library(home), person)
    console.print(f"person {person} marked as you (the library owner)")


@app.command("minor")
def people_minor(
    person: int,
    unset: Annotated[bool, typer.Option("--unset", help="Clear the mark.")] = False,
    home: HomeOption = None,
) -> None:
    """Mark a person as a minor: never generated photoreal, whatever grants exist."""
    from likeness.people.manage import set_minor

    set_minor(open_library(home), person, not unset)
    console.print(f"person {person} {'is no longer' if unset else 'is now'} marked as a minor")


@app.command("invite")
def people_invite(
    person: int,
    url: Annotated[
        str,
        typer.Option(
            help="Where the person's phone reaches `likeness serve` (https for a phone on "
            "the network: browsers give passkeys and the camera only to secure origins)."
        ),
    ] = "http://127.0.0.1:8765",
    hours: Annotated[int, typer.Option(min=1, max=720, help="How long the link works.")] = 72,
    qr: Annotated[bool, typer.Option(help="Also print the link as a QR code.")] = True,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Invite a person to consent for themselves: a one-time link to their live check and
    passkey (shown once; only its hash is kept)."""
    from datetime import timedelta

    from likeness.consent.invitations import invite_person

    info, token = invite_person(open_library(home), person, timedelta(hours=hours))
    link = f"{url.rstrip('/')}/invite/{token}"
    if as_json:
        print_json({**info.as_json(), "url": link})
        return
    console.print(f"invitation {info.id} for person {person}, valid until {info.expires_at}:")
    console.print(link, soft_wrap=True, highlight=False)
    if qr:
        import segno

        segno.make(link, error="m").terminal(compact=True)


@app.command("invitations")
def people_invitations(
    person: Annotated[int | None, typer.Argument(help="One person's (default: all).")] = None,
    revoke: Annotated[
        str | None, typer.Option(help="Revoke this invitation (not yet opened) first.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List invitations (newest first), or revoke one."""
    from likeness.consent.invitations import list_invitations, revoke_invitation

    lib = open_library(home)
    if revoke is not None:
        revoke_invitation(lib, revoke)
        if not as_json:
            console.print(f"invitation {revoke} revoked")
    rows = [i.as_json() for i in list_invitations(lib, person)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "person", "made", "valid until", "state")
    for r in rows:
        table.add_row(r["id"], str(r["person"]), r["created_at"], r["expires_at"], r["status"])
    console.print(table)


@app.command("guardian")
def people_guardian(
    minor: int,
    guardian: Annotated[
        int | None, typer.Argument(help="The guardian: a person with an account.")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the guardian.")] = False,
    home: HomeOption = None,
) -> None:
    """Name a minor's guardian, who approves each permission the minor gives (and lets the
    minor be invited to consent for themselves)."""
    from likeness.consent.guardians import name_guardian

    if (guardian is None) != remove:
        raise fail("give the guardian's person id, or --remove")
    name_guardian(open_library(home), minor, guardian)
    console.print(
        f"person {minor}: guardian removed"
        if remove
        else f"person {guardian} is now the guardian of person {minor}"
    )


@app.command("erase")
def people_erase(
    person: int,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    template: Annotated[
        bool,
        typer.Option(
            "--template",
            help="Erase the salted template kept after an erasure instead: from then on "
            "nothing recognises their face (the do-not-generate mark stays).",
        ),
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Erase a person's biometric data at their request and mark them do-not-generate.

    Deletes their face records, enrolments, adapters and key, revokes their grants; keeps
    the photos and one salted template that only refuses (see README, "Erase"). Only for a
    person without an account: one who has an account erases on their own page."""
    from likeness import workflows
    from likeness.consent.erasure import erase_do_not_generate_template

    if not yes:
        raise fail(f"erasing person {person}'s biometric data cannot be undone: add --yes")
    lib = open_library(home)
    if template:
        deleted = erase_do_not_generate_template(lib, person)
        if as_json:
            print_json({"person": person, "templates_deleted": deleted})
        else:
            console.print(f"person {person}: {deleted} salted template(s) erased")
        return
    done = workflows.erase(lib, person)
    if as_json:
        print_json(done.as_json())
        return
    console.print(
        f"person {person} erased: {done.faces_deleted} face records "
        f"(+{done.unassigned_faces_deleted} unassigned matching ones), "
        f"{done.enrolments_deleted} enrolments, {done.adapters_deleted} adapters, "
        f"{done.grants_revoked} grants revoked, key "
        f"{'destroyed' if done.key_destroyed else 'already gone'}; marked do-not-generate; "
        f"salted template kept for: {', '.join(done.templates_kept) or 'no backend'}"
    )


@app.command("show")
def people_show(
    person: int,
    out: Annotated[Path | None, typer.Option(help="Image to write (default: vault).")] = None,
    home: HomeOption = None,
) -> None:
    """Write a contact sheet of a person's faces and print its path."""
    from likeness.people.contact_sheet import write_contact_sheet

    lib = open_library(home)
    target = out or lib.vault / "contact-sheets" / f"person-{person}.jpg"
    drawn = write_contact_sheet(lib, person, target)
    if drawn == 0:
        raise fail(f"person {person} has no readable faces")
    console.print(str(target))


@app.command("recluster")
def people_recluster(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Re-group every face from scratch, keeping names, merges, splits and moves."""
    from likeness.people.manage import recluster

    stats = recluster(open_library(home))
    if as_json:
        print_json(stats)
    else:
        console.print(
            f"{stats['faces']} faces into {stats['people']} people "
            f"({stats['created']} new, {stats['removed']} removed, {stats['moved']} faces moved)"
        )
