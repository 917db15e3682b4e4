"""The command line: JSON shapes, exit codes, and the people workflow end to end."""

import json
from pathlib import Path

from PIL import Image

from likeness.testing.cli import likeness, likeness_process
from likeness.testing.photos import face_photos, jpeg_bytes, scenery, write


def test_import_people_faces_json_and_edits(tmp_path):
    home = tmp_path / "home"
    photos = tmp_path / "photos"
    face_photos(photos, count=4)
    write(photos / "landscape.jpg", jpeg_bytes(scenery(2)))
    assert likeness(home, "init").returncode == 0

    done = likeness(home, "import", str(photos), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["added"] == 5 and report["faces"] == 4 and report["problems"] == []

    people = json.loads(likeness(home, "people", "--json").stdout)
    assert len(people) == 1
    person = people[0]
    assert {"id", "name", "face_count", "suggested_names"} <= set(person)
    assert person["face_count"] == 4 and person["name"] is None

    faces = json.loads(likeness(home, "faces", "--json").stdout)
    assert len(faces) == 4
    for face in faces:
        assert Path(face["photo"]).is_absolute() and Path(face["photo"]).exists()
        x0, y0, x1, y1 = face["box"]
        w, h = Image.open(face["photo"]).size
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert face["person"] == person["id"] and 0 < face["quality"] <= 1

    pid = str(person["id"])
    assert likeness(home, "people", "name", pid, "Astronaut").returncode == 0
    assert likeness(home, "people", "me", pid).returncode == 0
    split = likeness(home, "people", "split", pid, "--faces", str(faces[0]["id"]))
    assert split.returncode == 0, split.stderr
    assert likeness(home, "people", "recluster").returncode == 0
    listed = {p["name"]: p for p in json.loads(likeness(home, "people", "--json").stdout)}
    assert listed["Astronaut"]["face_count"] == 3 and listed["Astronaut"]["is_owner"]
    # Merged back, listed, undone: the split-off person returns under their id.
    part = str(next(p["id"] for p in listed.values() if p["face_count"] == 1))
    merged = likeness(home, "people", "merge", pid, part)
    assert "undo with: likeness people undo-merge" in merged.stdout
    [merge] = json.loads(likeness(home, "people", "merges", "--json").stdout)
    assert (str(merge["other"]), merge["faces_moved"]) == (part, 1)
    undone = likeness(home, "people", "undo-merge", str(merge["id"]))
    assert f"person {part} is back with 1 face" in undone.stdout
    assert likeness(home, "people", "undo-merge", str(merge["id"])).returncode != 0
    sheet = tmp_path / "sheet.png"
    shown = likeness(home, "people", "show", pid, "--out", str(sheet))
    assert shown.returncode == 0 and Image.open(sheet).size[0] > 0
    # Hidden people drop out of the list; --all brings them back.
    assert likeness(home, "people", "hide", pid).returncode == 0
    assert "Astronaut" not in likeness(home, "people").stdout
    assert "Astronaut" in likeness(home, "people", "--all").stdout


def test_exit_codes(tmp_path):
    home = tmp_path / "home"
    photos = tmp_path / "photos"
    write(photos / "ok.jpg", jpeg_bytes(scenery(1)))
    write(photos / "broken.jpg", b"\xff\xd8\xff\xe0 not really")
    result = likeness(home, "import", str(photos))
    assert result.returncode == 3
    assert "broken.jpg" in result.stderr and "completed with 1 problems" in result.stderr
    assert likeness(home, "import", str(tmp_path / "missing")).returncode == 1
    failed = likeness(home, "people", "name", "424242", "Nobody")
    assert failed.returncode == 1 and "no person with id 424242" in failed.stderr
    assert likeness(home, "people", "split", "1", "--faces", "a,b").returncode == 2


def test_a_real_process_exits_with_the_same_codes(tmp_path):
    """``python -m likeness.cli`` as a shell runs it: the codes the in-process runner sees
    are the process's own, and an error is one line on stderr."""
    home = tmp_path / "home"
    assert likeness_process(home, "init").returncode == 0
    failed = likeness_process(home, "people", "name", "424242", "Nobody")
    assert failed.returncode == 1 and failed.stderr.strip().endswith("no person with id 424242")
    assert "Traceback" not in failed.stderr
    assert likeness_process(home, "people", "--no-such-option").returncode == 2


def test_consent_and_audit_commands(tmp_path):
    home = tmp_path / "home"
    photos = tmp_path / "photos"
    face_photos(photos, count=3)
    assert likeness(home, "import", str(photos)).returncode == 0
    pid = str(json.loads(likeness(home, "people", "--json").stdout)[0]["id"])

    refused = likeness(home, "consent", "grant", pid, "--scope", "train-adapter")
    assert refused.returncode == 1 and "--enrolment" in refused.stderr
    made = likeness(
        home,
        "consent",
        "grant",
        pid,
        "--scope",
        "train-adapter",
        "--scope",
        "generate-stylized",
        "--attested",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    grant = json.loads(made.stdout)
    assert grant["trust"] == "attested" and grant["person"] == int(pid)
    listed = json.loads(likeness(home, "consent", "list", "--json").stdout)
    assert [g["id"] for g in listed] == [grant["id"]] and listed[0]["signature_valid"]
    assert likeness(home, "consent", "show", grant["id"]).returncode == 0
    assert likeness(home, "people", "minor", pid).returncode == 0
    assert likeness(home, "consent", "revoke", grant["id"], "--reason", "test").returncode == 0
    after = json.loads(likeness(home, "consent", "list", "--json").stdout)
    assert after[0]["revoked_at"] is not None
    assert likeness(home, "consent", "show", "nope").returncode == 1

    verified = likeness(home, "audit", "verify")
    assert verified.returncode == 0 and "2 entries" in verified.stdout
    kinds = [e["kind"] for e in json.loads(likeness(home, "audit", "list", "--json").stdout)]
    assert kinds == ["grant", "revoke"]
    import sqlite3

    with sqlite3.connect(home / "catalog.sqlite") as db:
        db.execute("UPDATE audit_log SET kind = 'grant' WHERE seq = 2")
    broken = likeness(home, "audit", "verify")
    assert broken.returncode == 1 and "entry 2 was altered" in broken.stderr


def test_bad_arguments_end_in_a_message_not_a_traceback(tmp_path):
    home = tmp_path / "home"
    bad_target = likeness(home, "people", "move", "--faces", "1", "--to", "x")
    assert bad_target.returncode == 2 and "expected a person id or 'none'" in bad_target.stderr
    bad_faces = likeness(home, "people", "move", "--faces", "a,b", "--to", "none")
    assert bad_faces.returncode == 2
    unknown = likeness(home, "people", "name", "999", "Nobody")
    assert unknown.returncode == 1 and "999" in unknown.stderr
    missing = likeness(home, "import", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    for run in (bad_target, bad_faces, unknown, missing):
        assert "Traceback" not in run.stderr


def test_invitations_from_the_command_line(tmp_path):
    home = tmp_path / "home"
    photos = tmp_path / "photos"
    face_photos(photos, count=3)
    assert likeness(home, "import", str(photos)).returncode == 0
    pid = str(json.loads(likeness(home, "people", "--json").stdout)[0]["id"])

    made = likeness(home, "people", "invite", pid, "--url", "https://likeness.lan:8765/", "--json")
    assert made.returncode == 0, made.stderr
    invitation = json.loads(made.stdout)
    assert invitation["status"] == "pending"
    assert invitation["url"].startswith("https://likeness.lan:8765/invite/")
    shown = likeness(home, "people", "invite", pid)
    assert shown.returncode == 0 and "/invite/" in shown.stdout and "█" in shown.stdout  # QR
    listed = json.loads(likeness(home, "people", "invitations", pid, "--json").stdout)
    assert [i["status"] for i in listed] == ["pending", "pending"]
    assert invitation["id"] in {i["id"] for i in listed} and "url" not in listed[0]
    revoked = likeness(home, "people", "invitations", "--revoke", invitation["id"], "--json")
    states = {i["id"]: i["status"] for i in json.loads(revoked.stdout)}
    assert revoked.returncode == 0 and states[invitation["id"]] == "revoked"
    assert likeness(home, "people", "invitations", "--revoke", "0" * 32).returncode == 1
    assert likeness(home, "people", "invite", "999").returncode == 1
    assert likeness(home, "people", "minor", pid).returncode == 0
    minor = likeness(home, "people", "invite", pid)
    assert minor.returncode == 1 and "guardian" in minor.stderr
    assert likeness(home, "people", "guardian", pid).returncode == 1  # whom?
    no_account = likeness(home, "people", "guardian", pid, pid)
    assert no_account.returncode == 1 and "own guardian" in no_account.stderr

    # A permission is asked only of someone who answers for themselves (an account).
    asked = likeness(home, "consent", "request", pid, "--scope", "train-adapter")
    assert asked.returncode == 1 and "no account" in asked.stderr
    # Erasure at the person's request: asked to confirm, then done, then its template.
    unconfirmed = likeness(home, "people", "erase", pid)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    erased = likeness(home, "people", "erase", pid, "--yes", "--json")
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["faces_deleted"] == 3
    person = next(
        p for p in json.loads(likeness(home, "people", "--json").stdout) if p["id"] == int(pid)
    )
    assert person["do_not_generate"] and person["face_count"] == 0
    again = likeness(home, "people", "invite", pid)
    assert again.returncode == 1 and "erased their biometric data" in again.stderr
    template = likeness(home, "people", "erase", pid, "--template", "--yes", "--json")
    assert json.loads(template.stdout) == {"person": int(pid), "templates_deleted": 1}
