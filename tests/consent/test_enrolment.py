"""Enrolment end to end: challenge, recorded video, record, verified grant, the gate."""

import json

import pytest
from sqlalchemy import select

from likeness.consent import liveness
from likeness.consent.enrolment import (
    EnrolmentError,
    enrol_from_frames,
    enrol_from_video,
    open_live_enrolment,
    start_enrolment,
)
from likeness.consent.grants import GrantError, Scope, Trust, issue_grant
from likeness.consent.policy import authorize
from likeness.consent.tables import Enrolment
from likeness.faces.backends import backend_class
from likeness.importing import import_photos
from likeness.testing import clips
from likeness.testing.cli import likeness
from likeness.testing.clips import prepared
from likeness.testing.photos import astronaut, face_photos


@pytest.fixture
def enrolled_library(lib, tmp_path):
    face_photos(tmp_path / "photos", count=3)
    import_photos(lib, tmp_path / "photos")
    pixels, face = prepared(astronaut())
    return lib, pixels, face


@pytest.mark.slow  # 38 s; `make test-all`
def test_live_enrolment_makes_verified_grants_possible(enrolled_library, tmp_path):
    lib, pixels, face = enrolled_library
    person = 1
    session = start_enrolment(lib, person)
    video = clips.write_video(
        clips.honest_frames(pixels, face.landmarks, session), tmp_path / "me.mp4"
    )
    result = enrol_from_video(lib, person, session.id, video)
    assert result.passed, result.reason
    assert len(result.template_commitment) == 64
    with lib.session() as s:
        row = s.scalar(select(Enrolment))
        versions = json.loads(row.versions)
        assert row.passed and versions["liveness"] == liveness.VERSION
        assert (
            liveness.THRESHOLDS.record(backend_class().distances).items() <= versions.items()
        )  # every threshold recorded
        assert versions["turned_face_finder"] == "dlib-mmod-cnn-v1"
        assert versions["poses"] == "mesh"  # what read the head poses (liveness-18)
        assert "embedding" not in row.transcript  # no biometric data in the record
    with pytest.raises(EnrolmentError, match="already used"):
        enrol_from_video(lib, person, session.id, video)

    grant = issue_grant(
        lib, person, [Scope.GENERATE_PHOTOREAL], Trust.VERIFIED, enrolment_id=result.id
    )
    assert f"enrolment:{result.id}" in grant.evidence
    assert authorize(lib, "generate-photoreal", [person], model="real").allowed

    # The same recording replayed against a fresh session fails (its order and timing differ
    # unless the draw repeats, which the check below allows for). A repeat may be mirrored:
    # a whole sequence read mirrored passes by design (``verify_clip``), and the README counts
    # such replays (about 1 earlier recording in 370 passes).
    fresh = start_enrolment(lib, person)
    replay = enrol_from_video(lib, person, fresh.id, video)
    drawn = [c.kind for c in fresh.challenges]
    same_draw = drawn in (
        [c.kind for c in session.challenges],
        [c.kind for c in session.mirrored().challenges],
    )
    assert replay.passed is False or same_draw


@pytest.mark.slow  # 11 s; `make test-all`
def test_failed_enrolment_is_recorded_and_cannot_back_a_grant(enrolled_library, tmp_path):
    lib, pixels, _ = enrolled_library
    session = start_enrolment(lib, 1)
    frames = clips.still_frames(pixels, session)
    video = clips.write_video(frames, tmp_path / "still.mp4")
    heard: list[tuple[int, int | None]] = []
    result = enrol_from_video(lib, 1, session.id, video, progress=lambda *a: heard.append(a))
    assert not result.passed and result.template_commitment is None
    # Every frame was checked and reported, against the count the file gives.
    assert heard == [(i, len(frames)) for i in range(1, len(frames) + 1)]
    with pytest.raises(GrantError, match="did not pass"):
        issue_grant(lib, 1, [Scope.TRAIN_ADAPTER], Trust.VERIFIED, enrolment_id=result.id)


@pytest.mark.slow  # 21 s; `make test-all`
def test_enrolment_cli(enrolled_library, tmp_path):
    lib, pixels, face = enrolled_library

    def run(*args):
        return likeness(lib.home, *args)

    # A recording cannot be asked to come closer: the instructions say the size first.
    told = run("consent", "challenge", "1")
    assert told.returncode == 0, told.stderr
    assert "the face at least 175 px wide" in " ".join(told.stdout.split()), told.stdout
    started = run("consent", "challenge", "1", "--json")
    assert started.returncode == 0, started.stderr
    from likeness.consent.liveness import ChallengeSession

    session = ChallengeSession.from_json(json.loads(started.stdout))
    video = clips.write_video(
        clips.honest_frames(pixels, face.landmarks, session), tmp_path / "clip.mp4"
    )
    enrolled = run(
        "consent", "enrol", "1", "--session", session.id, "--video", str(video), "--json"
    )
    assert enrolled.returncode == 0, enrolled.stderr
    enrolment_id = json.loads(enrolled.stdout)["id"]
    granted = run(
        "consent", "grant", "1", "--scope", "train-adapter", "--enrolment", enrolment_id, "--json"
    )
    assert granted.returncode == 0 and json.loads(granted.stdout)["trust"] == "verified"
    missing = run("consent", "enrol", "1", "--session", "nope", "--video", str(video))
    assert missing.returncode == 1 and "no enrolment session" in missing.stderr
    grant_id = json.loads(granted.stdout)["id"]
    bundle = tmp_path / "grant.json"
    assert run("consent", "export", grant_id, "--out", str(bundle)).returncode == 0
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    imported = run("consent", "import", str(bundle), "--person", "1", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["trust"] == "attested"
    bundle.write_text("{}")
    assert run("consent", "import", str(bundle), "--person", "1").returncode == 1


@pytest.mark.slow  # 23 s; `make test-all`
def test_a_verified_grant_travels_to_another_install(enrolled_library, tmp_path, faces_dev):
    import copy

    from likeness.consent.grants import revoke_grant
    from likeness.consent.transfer import export_grant, import_grant
    from likeness.store import Library

    lib, pixels, face = enrolled_library
    session = start_enrolment(lib, 1)
    video = clips.write_video(
        clips.honest_frames(pixels, face.landmarks, session), tmp_path / "me.mp4"
    )
    enrolment = enrol_from_video(lib, 1, session.id, video)
    grant = issue_grant(lib, 1, [Scope.TRAIN_ADAPTER], Trust.VERIFIED, enrolment_id=enrolment.id)
    bundle = export_grant(lib, grant.id)

    face_photos(tmp_path / "other-photos", count=2)  # the same person's photos elsewhere
    (tmp_path / "other-photos" / "obama").mkdir()
    for i in (1, 2):
        src = faces_dev / f"people/barack_obama/{i}.jpg"
        (tmp_path / "other-photos" / "obama" / f"{i}.jpg").write_bytes(src.read_bytes())
    with Library.open(tmp_path / "other-home") as other:
        import_photos(other, tmp_path / "other-photos")
        from likeness.people.manage import list_people

        people = [p.id for p in list_people(other)]
        assert len(people) == 2
        with other.session() as s:
            from likeness.faces.tables import Face
            from likeness.library.tables import Photo, PhotoFile

            obama = s.scalar(
                select(Face.person_id)
                .join(Photo)
                .join(PhotoFile)
                .where(PhotoFile.display_path.contains("obama"))
            )
        me = next(pid for pid in people if pid != obama)

        imported = import_grant(other, bundle, me)
        assert imported.trust == Trust.ATTESTED and imported.scopes == (Scope.TRAIN_ADAPTER,)
        assert f"imported:{grant.id}" in imported.evidence
        assert authorize(other, "train-adapter", [me], model="tiny").allowed
        assert not authorize(other, "train-adapter", [me], model="real").allowed

        with pytest.raises(GrantError, match="does not match"):
            import_grant(other, bundle, obama)
        tampered = copy.deepcopy(bundle)
        tampered["document"] = tampered["document"][:-8] + "AAAAAAA="
        with pytest.raises(GrantError):
            import_grant(other, tampered, me)
        swapped = copy.deepcopy(bundle)
        swapped["template_salt"] = "AAAAAAAAAAAAAAAAAAAAAA=="
        with pytest.raises(GrantError, match="commits to"):
            import_grant(other, swapped, me)

    revoke_grant(lib, grant.id)
    with pytest.raises(GrantError, match="not in force"):
        export_grant(lib, grant.id)


@pytest.mark.slow  # 7 s; `make test-all`
def test_live_and_recorded_sessions_do_not_mix(lib, tmp_path):
    pixels, _ = prepared(astronaut())
    face_photos(tmp_path / "photos", count=3)
    import_photos(lib, tmp_path / "photos")
    live = start_enrolment(lib, 1, live=True)
    with pytest.raises(EnrolmentError, match="live page"):
        enrol_from_frames(lib, 1, live.id, [(0.0, pixels)])
    recorded = start_enrolment(lib, 1)
    with pytest.raises(EnrolmentError, match="schedule was shown"):
        open_live_enrolment(lib, 1, recorded.id)
    # A live enrolment is recorded as such, pass or fail, and its session is used up.
    enrolment = open_live_enrolment(lib, 1, live.id)
    clips.run_live(enrolment.check, lambda t: pixels)  # a still face: refused
    result = enrolment.finish()
    assert not result.passed and enrolment.finish() is result
    with lib.session() as s:
        row = s.scalar(select(Enrolment))
        assert row.id == result.id and '"mode": "live"' in row.versions
    with pytest.raises(EnrolmentError, match="already used"):
        open_live_enrolment(lib, 1, live.id)
