"""``likeness demo``: walk the product as far as it is built, on photos that ship with a package.

The sample library is made from public-domain photos bundled in scikit-image: the astronaut
portrait (Eileen Collins, NASA) in realistic variants (crops, scales, a mirror image, exposure
changes, a phone photo stored sideways with an EXIF orientation tag, an exact duplicate), plus
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
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    astronaut = Image.fromarray(data.astronaut())
    w, h = astronaut.size
    photos: dict[str, Image.Image] = {
        "2019/astronaut.jpg": astronaut,
        "2019/astronaut-portrait-crop.jpg": astronaut.crop((60, 0, 360, 330)),
        "2020/astronaut-large.jpg": astronaut.resize((w * 2, h * 2), Image.Resampling.LANCZOS),
        "2020/astronaut-small.jpg": astronaut.resize((w * 3 // 4, h * 3 // 4)),
        "2021/astronaut-mirror.png": astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "2021/astronaut-bright.webp": ImageEnhance.Brightness(astronaut).enhance(1.35),
        "2021/astronaut-dim.jpg": ImageEnhance.Brightness(astronaut).enhance(0.7),
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
    from likeness.importing import import_photos
    from likeness.people.contact_sheet import write_contact_sheet
    from likeness.people.manage import list_people, name_person, set_owner
    from likeness.store import Library

    out = out.absolute()
    photos_dir = out / "photos"
    console.rule("[bold]likeness demo")
    console.print(f"1. Sample photos (scikit-image, public domain) -> {photos_dir}")
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
    main = people[0]
    name_person(lib, main.id, "Astronaut")
    set_owner(lib, main.id)
    sheet = out / f"person-{main.id}.jpg"
    drawn = write_contact_sheet(lib, main.id, sheet)
    console.print(
        f"4. Named person {main.id} 'Astronaut', marked as the library owner; "
        f"contact sheet of {drawn} faces -> {sheet}"
    )
    console.print("Not built yet: consent, adapters, generation, safety gate, provenance.")
    lib.close()
    return 0
