"""``likeness demo``: walk the product as far as it is built, on photos that ship with a package.

The sample library is made from public-domain photos that dependencies ship: the astronaut
portrait (Eileen Collins, NASA; scikit-image) in realistic variants (crops, scales, a mirror
image, exposure changes, a phone photo stored sideways with an EXIF orientation tag, an exact
duplicate), Grace Hopper's portrait (US Navy; matplotlib's sample data) in a few variants, and
photos without people. Each later feature adds its step here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image, ImageEnhance
from rich.console import Console
from rich.table import Table


def build_sample_photos(folder: Path) -> list[Path]:
    """Write the demo's photo library into ``folder`` and return the files."""
    from matplotlib import cbook
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    astronaut = Image.fromarray(data.astronaut())
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = Image.open(f).convert("RGB")
    w, h = astronaut.size
    photos: dict[str, Image.Image] = {
        "2019/astronaut.jpg": astronaut,
        "2019/astronaut-portrait-crop.jpg": astronaut.crop((60, 0, 360, 330)),
        "2020/astronaut-large.jpg": astronaut.resize((w * 2, h * 2), Image.Resampling.LANCZOS),
        "2020/astronaut-small.jpg": astronaut.resize((w * 3 // 4, h * 3 // 4)),
        "2021/astronaut-mirror.png": astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "2021/astronaut-bright.webp": ImageEnhance.Brightness(astronaut).enhance(1.35),
        "2021/astronaut-dim.jpg": ImageEnhance.Brightness(astronaut).enhance(0.7),
        "2018/grace-hopper.jpg": hopper,
        "2018/grace-hopper-crop.jpg": hopper.crop((40, 0, 472, 430)),
        "2019/grace-hopper-warm.jpg": ImageEnhance.Color(hopper).enhance(1.4),
        "misc/coffee.jpg": Image.fromarray(data.coffee()),
        "misc/cat.jpg": Image.fromarray(data.chelsea()),
        "misc/rocket.jpg": Image.fromarray(data.rocket()),
        "misc/hubble.jpg": Image.fromarray(data.hubble_deep_field()),
    }
    written = []
    for rel, image in photos.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)
        written.append(path)
    # A phone photo stored sideways: pixels rotated, EXIF orientation 6 says "rotate to view".
    sideways = folder / "2022/astronaut-phone.jpg"
    sideways.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x010F], exif[0x0110] = "DemoPhone", "Model 1"
    astronaut.transpose(Image.Transpose.ROTATE_90).save(sideways, quality=90, exif=exif)
    written.append(sideways)
    duplicate = folder / "backup/astronaut-copy.jpg"
    duplicate.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / "2019/astronaut.jpg", duplicate)
    written.append(duplicate)
    return written


def run_demo(out: Path, console: Console) -> int:
    """Build the sample library, import it, show the people found. Returns an exit code."""
    from likeness.consent.audit import verify_audit
    from likeness.consent.grants import Scope, Trust, issue_grant
    from likeness.consent.policy import Action, ModelKind, authorize
    from likeness.faces.listing import list_faces
    from likeness.importing import import_photos
    from likeness.people.contact_sheet import write_contact_sheet
    from likeness.people.manage import list_people, name_person, set_owner
    from likeness.store import Library

    out = out.absolute()
    photos_dir = out / "photos"
    console.rule("[bold]likeness demo")
    console.print(f"1. Sample photos (scikit-image, matplotlib; public domain) -> {photos_dir}")
    files = build_sample_photos(photos_dir)
    console.print(f"   {len(files)} files")
    lib = Library.open(out / "library")
    console.print(f"2. Import into the demo library at {lib.home}")
    report = import_photos(lib, photos_dir)
    console.print(
        f"   {report.added} photos, {report.duplicates} exact duplicate(s), "
        f"{report.near_duplicates} near duplicate(s), {report.faces} faces, "
        f"{len(report.problems)} problem(s) in {report.seconds:.1f}s"
    )
    people = list_people(lib)
    console.print("3. People found")
    table = Table("id", "name", "faces", "photos")
    for p in people:
        table.add_row(str(p.id), p.name or "-", str(p.face_count), str(p.photo_count))
    console.print(table)
    if not people:
        console.print("[red]no person was found in the sample photos[/red]")
        return 1
    # Which group is whom: the person of the face in each original portrait.
    person_in = {Path(f["photo"]).name: f["person"] for f in list_faces(lib)}
    by_id = {p.id: p for p in people}
    astronaut = by_id.get(person_in.get("astronaut.jpg"))
    hopper = by_id.get(person_in.get("grace-hopper.jpg"))
    if astronaut is None:
        console.print("[red]the astronaut was not found as a person[/red]")
        return 1
    name_person(lib, astronaut.id, "Astronaut")
    set_owner(lib, astronaut.id)
    # Faces are biometric data: the sheets go where `people show` puts them, in the vault
    # (inside the 0700 library home, each file 0600), not beside the public sample photos.
    sheet = lib.vault / "contact-sheets" / f"person-{astronaut.id}.jpg"
    drawn = write_contact_sheet(lib, astronaut.id, sheet)
    console.print(
        f"4. Named person {astronaut.id} 'Astronaut', marked as the library owner; "
        f"contact sheet of {drawn} faces -> {sheet}"
    )
    if hopper is not None:
        name_person(lib, hopper.id, "Grace Hopper")
        console.print(f"   Named person {hopper.id} 'Grace Hopper'")

    console.print("5. Consent")
    scopes = [Scope.TRAIN_ADAPTER, Scope.GENERATE_STYLIZED, Scope.GENERATE_VIDEO]
    grant = issue_grant(lib, astronaut.id, scopes, Trust.ATTESTED)
    console.print(
        f"   Astronaut: grant {grant.id[:12]}… [yellow]ATTESTED[/yellow] (a signed statement "
        "for this demo, no live check): train-adapter, generate-stylized, generate-video"
    )
    console.print("   Grace Hopper: no grant")
    console.print(
        "   (A demo cannot record a live video; `likeness consent challenge` and "
        "`consent enrol --video` make verified grants.)"
    )
    console.print("6. The policy gate (every training, generation and export asks it)")
    asks = [
        (
            "train an adapter of Astronaut on the built-in tiny model",
            Action.TRAIN_ADAPTER,
            [astronaut.id],
            ModelKind.TINY,
        ),
        (
            "train an adapter of Astronaut on a real model",
            Action.TRAIN_ADAPTER,
            [astronaut.id],
            ModelKind.REAL,
        ),
    ]
    if hopper is not None:
        asks.append(
            (
                "generate Astronaut and Grace Hopper (tiny model)",
                Action.GENERATE_STYLIZED,
                [astronaut.id, hopper.id],
                ModelKind.TINY,
            )
        )
    for label, action, subjects, model in asks:
        decision = authorize(lib, action, subjects, model=model)
        verdict = "[green]ALLOW[/green]" if decision.allowed else "[red]DENY[/red]"
        console.print(f"   {verdict} {label}: {decision.reason}")
    if not _adapter_steps(lib, astronaut.id, hopper.id if hopper else None, console):
        lib.close()
        return 1
    if not _generation_steps(lib, out, console) or not _video_steps(lib, out, console):
        lib.close()
        return 1
    report = verify_audit(lib)
    console.print(
        f"12. Audit log: {report.entries} entries, "
        f"{'intact' if report.ok else 'BROKEN: ' + str(report.problem)}"
    )
    lib.close()
    return 0 if report.ok else 1


def _adapter_steps(lib, astronaut: int, hopper: int | None, console: Console) -> bool:
    """Curate the astronaut's training set, train her adapter on the built-in tiny model, and
    show that Grace Hopper, who has no grant, cannot get one trained."""
    from likeness.adapters.curation import CurationRules, TrainingSetError, write_dataset_sheet
    from likeness.adapters.training import authorize_training
    from likeness.models.registry import get_model
    from likeness.workflows import TrainRequest, train

    model = get_model(lib, "tiny-sd15")
    # The sample library has few distinct photos of her: the demo asks for 3, not the 10 a
    # real training set needs by default.
    rules = CurationRules(min_photos=3)
    console.print(f"7. Adapter for Astronaut on the built-in {model.name} (random weights)")
    from likeness.adapters.curation import curate

    try:
        chosen = curate(lib, astronaut, model.resolution, rules)
    except TrainingSetError as exc:
        console.print(f"[red]{exc}[/red]")
        return False
    sheet = write_dataset_sheet(chosen, lib.vault / "datasets" / f"person-{astronaut}.png")
    console.print(
        f"   training set: {len(chosen.examples)} of {chosen.candidates} faces "
        f"({', '.join(f'{n} {r}' for r, n in chosen.rejected.items()) or 'none left out'}); "
        f"contact sheet -> {sheet}"
    )
    # Few sampling steps for the identity score: the tiny model draws no face at any number
    # of steps, and the score says so; 25 (a real model's) would add most of a minute to the
    # demo on a CPU.
    outcome = train(lib, TrainRequest(astronaut, model.name, min_photos=3, eval_steps=5))
    trained = outcome.adapter
    console.print(
        f"   trained {trained.steps} steps: loss {trained.losses[0]:.3f} -> "
        f"{sum(trained.losses[-10:]) / 10:.3f} (mean of the last 10)"
    )
    console.print(f"   adapter (encrypted with her key) -> {trained.path}")
    console.print(f"   loss curve -> {trained.loss_curve}")
    if outcome.identity is not None:
        console.print(f"   identity: {outcome.identity.summary()}")
    if hopper is not None:  # the gate's answer shown, as in step 6: nothing runs
        refused = authorize_training(lib, hopper, model.name)
        verdict = "[green]ALLOW[/green]" if refused.allowed else "[red]DENY[/red]"
        console.print(f"8. {verdict} train an adapter of Grace Hopper: {refused.reason}")
    return True


def _generation_steps(lib, out: Path, console: Console) -> bool:
    """Generate with the astronaut's adapter (signed, watermarked), show Grace Hopper refused,
    and verify an output and a JPEG-re-encoded copy of it."""
    import io

    import numpy as np
    from PIL import Image

    from likeness.consent.policy import GateError
    from likeness.generate.run import GenerationOptions, authorize_generation
    from likeness.provenance.stamp import find_provenance
    from likeness.workflows import GenerateRequest, authorize_generate, generate

    options = GenerationOptions(steps=20, style="watercolor", count=2)
    prompt = "@astronaut reading in a garden"
    request = GenerateRequest(prompt, options)
    try:
        decision = authorize_generate(lib, request)
    except GateError as refused:
        console.print(f'9. Generate "{prompt}": [red]{refused}[/red]')
        return False
    console.print(f'9. Generate "{prompt}" (style watercolor, tiny model): {decision.reason}')
    result = generate(lib, request, out / "generated")
    for image in result.images:
        state = image.path if image.allowed else f"refused: {image.reason}"
        console.print(f"   image {image.index + 1} (seed {image.seed}): {state}")
    refused = authorize_generation(lib, "@grace_hopper on stage", options)  # shown only
    verdict = "[green]ALLOW[/green]" if refused.allowed else "[red]DENY[/red]"
    console.print(f'   {verdict} "@grace_hopper on stage": {refused.reason}; nothing written')
    if not result.written:
        return False
    first = Path(result.written[0].path)
    copy = out / "generated" / f"{first.stem}-reposted.jpg"
    pixels = np.asarray(Image.open(first).convert("RGB"))
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=75)
    copy.write_bytes(buf.getvalue())
    cropped = out / "generated" / f"{first.stem}-cropped.jpg"
    w = pixels.shape[1]
    turned = Image.fromarray(pixels[:, : w * 4 // 5]).rotate(3, Image.Resampling.BICUBIC)
    turned.save(cropped, "JPEG", quality=85)
    console.print("10. provenance verify")
    for path in (first, copy, cropped):
        report = find_provenance(lib, path)
        found = []
        if report.watermark_id is not None:
            found.append(f"watermark {report.watermark_id:08x}")
        if report.fingerprint_match is not None:
            found.append(f"fingerprint {report.fingerprint_match:08x}")
        if report.keypoints_match is not None:
            found.append(f"corners {report.keypoints_match:08x} ({report.keypoints_copy})")
        console.print(
            f"   {path.name}: Content Credentials {report.credentials.state}; "
            f"{', '.join(found) or 'no watermark, fingerprint or corners'}"
            + ("; the stored manifest was found" if report.stored_manifest else "")
        )
    return True


def _video_steps(lib, out: Path, console: Console) -> bool:
    """A short clip of the astronaut (built-in tiny model and motion module), verified as
    written and after a video site's re-encoding of its last second."""
    import numpy as np

    from likeness.generate.video import VideoOptions
    from likeness.provenance.clips import encode_clip, read_clip_frames
    from likeness.provenance.stamp import find_provenance
    from likeness.workflows import VideoRequest, generate_video

    options = VideoOptions(steps=4, frames=16, fps=8, style="watercolor")
    prompt = "@astronaut waving"
    console.print(
        f'11. Video "{prompt}" (16 frames at 8 fps, tiny model and built-in tiny motion '
        "module, random weights: moving noise, no person)"
    )
    result = generate_video(lib, VideoRequest(prompt, options), out / "generated")
    if not result.written:
        console.print(f"   [red]refused: {result.images[0].reason}[/red]")
        return False
    clip = Path(result.written[0].path)
    frames = read_clip_frames(clip)
    reposted = out / "generated" / f"{clip.stem}-reposted.mp4"
    # What a video site does: the last second kept, re-encoded at CRF 28.
    reposted.write_bytes(encode_clip(np.stack(frames[8:]), 8, "mp4", crf=28))
    for path in (clip, reposted):
        report = find_provenance(lib, path)
        found = []
        if report.watermark_id is not None:
            found.append(f"watermark {report.watermark_id:08x}")
        if report.frames_matched is not None:
            found.append(f"{report.frames_matched} of {report.frames_hashed} frames match")
        console.print(
            f"   {path.name}: Content Credentials {report.credentials.state}; "
            f"{', '.join(found) or 'no watermark or fingerprint'}"
        )
    return True
