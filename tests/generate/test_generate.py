"""Generation end to end on the built-in tiny models: consent, the safety gate, provenance."""

import json

import pytest

from likeness.adapters.manage import latest_adapter, load_into_pipeline
from likeness.consent.audit import list_audit
from likeness.consent.grants import Scope, Trust, issue_grant, revoke_grant
from likeness.consent.policy import ConsentWithdrawnError
from likeness.errors import LikenessError
from likeness.generate.layout import strips
from likeness.generate.run import GenerationOptions, authorize_generation, generate_images
from likeness.generate.sampling import Region
from likeness.models.loading import load_pipeline
from likeness.models.registry import get_model
from likeness.provenance.stamp import find_provenance
from likeness.safety.gate import SafetyGate
from likeness.testing.cli import likeness
from likeness.testing.regions import regional_influence
from likeness.workflows import person_activity

FAST = GenerationOptions(steps=6, style="watercolor")


def _allowed(lib, prompt, options=FAST):
    decision = authorize_generation(lib, prompt, options)
    assert decision.allowed, decision.reason
    return decision


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_a_consented_person_is_generated_signed_and_watermarked(two_people, tmp_path, fmt):
    lib = two_people.lib
    options = GenerationOptions(steps=6, style="watercolor", count=2, seed=5, format=fmt)
    decision = _allowed(lib, "@alice reading in a garden", options)
    result = generate_images(lib, decision, "@alice reading in a garden", tmp_path, options)
    assert [i.seed for i in result.written] == [5, 6]
    adapter = latest_adapter(lib, two_people.alice, "tiny-sd15")
    for image in result.written:
        report = find_provenance(lib, image.path)
        assert report.credentials.state == "trusted", report.credentials.failures
        assert f"{report.watermark_id:08x}" == image.watermark_id
        assertion = report.credentials.assertions["org.likeness.consent"]
        assert assertion["grants"] == [two_people.alice_grant]
        assert assertion["adapters"] == [adapter.id]
        assert assertion["parameters"]["seed"] == image.seed
        assert "alice" not in json.dumps(report.credentials.as_json()).lower()
    assert result.parameters["steps"] == 6 and result.action == "generate-stylized"
    # Alice's own page lists each image made of her with its Content Credentials' keys.
    released = [i for i in person_activity(lib, two_people.alice) if i.provenance]
    assert sorted(i.provenance["watermark"] for i in released) == sorted(
        i.watermark_id for i in result.written
    )
    assert all(i.words.startswith("an image asked of you was released") for i in released)
    assert all(i.words.endswith("made for the library's owner") for i in released)


def test_a_person_without_a_grant_is_refused_and_nothing_is_written(two_people, tmp_path):
    lib = two_people.lib
    denied = authorize_generation(lib, "@grace_hopper on stage", FAST)
    assert not denied.allowed and "no grant in force for generate-stylized" in denied.reason
    out = tmp_path / "out"
    run = likeness(
        lib.home,
        "generate",
        "@grace_hopper on stage",
        "--style",
        "watercolor",
        "--steps",
        "4",
        "--out",
        str(out),
    )
    assert run.returncode == 4 and "no grant in force" in run.stderr
    assert not out.exists() or not list(out.iterdir())
    photoreal = authorize_generation(lib, "@alice", GenerationOptions(steps=4))
    assert not photoreal.allowed and "generate-photoreal" in photoreal.reason


def test_an_image_the_safety_gate_refuses_is_never_written(two_people, tmp_path):
    lib = two_people.lib
    decision = _allowed(lib, "@alice by the sea")
    strict = SafetyGate(lib, decision, require_presence=True)  # as for a real model
    out = tmp_path / "out"
    result = generate_images(lib, decision, "@alice by the sea", out, FAST, gate=strict)
    [image] = result.images
    assert not image.allowed and image.path is None and "does not appear" in image.reason
    assert list(out.iterdir()) == []
    safety = [e for e in list_audit(lib, 5) if e["kind"] == "safety"]
    assert safety and safety[0]["payload"]["allowed"] is False


def test_revocation_between_images_stops_the_batch(two_people, tmp_path):
    lib = two_people.lib
    decision = _allowed(lib, "@alice in the snow")

    def revoke_after_first(index, step, steps):
        if index == 0 and step == steps:
            revoke_grant(lib, two_people.alice_grant)

    options = GenerationOptions(steps=4, style="watercolor", count=3)
    with pytest.raises(ConsentWithdrawnError):
        generate_images(
            lib, decision, "@alice in the snow", tmp_path, options, progress=revoke_after_first
        )
    assert len(list(tmp_path.glob("*.png"))) <= 1  # the first image, judged before revocation


def test_bad_options_are_clear_errors(two_people, tmp_path):
    lib = two_people.lib
    decision = _allowed(lib, "@alice")
    for options, message in [
        (GenerationOptions(style="watercolor", width=100, height=128), "multiples of 8"),
        (GenerationOptions(style="watercolor", format="gif"), "unknown format"),
        (GenerationOptions(style="watercolor", count=0), "at least 1"),
        # The scheduler's own error was an internal error (exit 70) at the command line.
        (GenerationOptions(style="watercolor", steps=2000), "at most 500"),
    ]:
        with pytest.raises(LikenessError, match=message):
            generate_images(lib, decision, "@alice", tmp_path, options)
    with pytest.raises(LikenessError, match="unknown style 'cubist'"):
        authorize_generation(lib, "@alice", GenerationOptions(style="cubist"))
    bad = likeness(lib.home, "generate", "@alice", "--size", "big")
    assert bad.returncode == 2 and "WIDTHxHEIGHT" in bad.stderr


def test_two_people_each_adapter_acts_in_its_own_region(two_people):
    lib = two_people.lib
    issue_grant(lib, two_people.grace, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
    pipe = load_pipeline(get_model(lib, "tiny-sd15"))
    names = [
        load_into_pipeline(lib, pipe, latest_adapter(lib, p, "tiny-sd15"))
        for p in (two_people.alice, two_people.grace)
    ]
    regions = [
        Region(f"a photo of {n} person", n, box)
        for n, box in zip(names, strips(2, 128, 128), strict=True)
    ]
    for (inside, outside), who in zip(
        regional_influence(pipe, regions, "", 128, 8, 3), ["alice", "grace"], strict=True
    ):
        print(f"{who}'s adapter: mean change {inside:.2f} inside her region, {outside:.2f} outside")
        assert inside > 2.5 * outside


def test_an_erasure_while_an_image_is_judged_writes_nothing(two_people, tmp_path, monkeypatch):
    from likeness.workflows import erase

    lib = two_people.lib
    decision = _allowed(lib, "@alice in the snow")
    check = SafetyGate.check

    def erased_while_judged(gate, *args, **kwargs):
        verdict = check(gate, *args, **kwargs)
        erase(lib, two_people.alice)
        return verdict

    monkeypatch.setattr(SafetyGate, "check", erased_while_judged)
    with pytest.raises(ConsentWithdrawnError):
        generate_images(lib, decision, "@alice in the snow", tmp_path / "out", FAST)
    assert not list((tmp_path / "out").iterdir())
