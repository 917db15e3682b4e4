import re
import stat

import pytest
from rich.console import Console

from likeness.demo import run_demo


@pytest.mark.slow  # 47 s; `make test-all`
def test_demo_walks_import_people_consent_and_the_gate(tmp_path):
    console = Console(record=True, width=200)
    assert run_demo(tmp_path / "demo", console) == 0
    text = console.export_text()
    from likeness.consent.grants import list_grants
    from likeness.people.manage import list_people
    from likeness.store import Library

    with Library.open(tmp_path / "demo" / "library") as lib:
        people = {p.name: p for p in list_people(lib)}
        grants = list_grants(lib)
    assert set(people) == {"Astronaut", "Grace Hopper"}
    assert people["Astronaut"].is_owner and people["Astronaut"].face_count == 8
    assert people["Grace Hopper"].face_count == 3
    assert [(str(g.trust), pid) for g, pid in grants] == [("attested", people["Astronaut"].id)]
    assert "ALLOW train an adapter of Astronaut on the built-in tiny model" in text
    assert "DENY train an adapter of Astronaut on a real model" in text
    assert f"person {people['Grace Hopper'].id} has no grant" in text
    assert "intact" in text
    # Contact sheets (faces) go to the vault, readable by their owner only, not beside the
    # public sample photos.
    vault = tmp_path / "demo" / "library" / "vault"
    astronaut = people["Astronaut"].id
    sheets = [
        vault / "contact-sheets" / f"person-{astronaut}.jpg",
        vault / "datasets" / f"person-{astronaut}.png",
        vault / "datasets" / f"person-{astronaut}.txt",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in sheets)
    assert stat.S_IMODE((tmp_path / "demo" / "library").stat().st_mode) == 0o700
    assert str(sheets[0]) in text.replace("\n", "")  # told where it is
    assert not list((tmp_path / "demo").glob("*.??g"))
    from likeness.adapters.manage import list_adapters

    with Library.open(tmp_path / "demo" / "library") as lib:
        [adapter] = list_adapters(lib)
    assert adapter.person_id == people["Astronaut"].id and adapter.status == "ready"
    assert "identity: no face found" in text
    assert f"DENY train an adapter of Grace Hopper: person {people['Grace Hopper'].id}" in text
    generated = sorted((tmp_path / "demo" / "generated").glob("likeness-*.png"))
    assert len(generated) == 2
    assert 'DENY "@grace_hopper on stage"' in text
    assert "Content Credentials trusted; watermark" in text  # the output
    assert "Content Credentials none; watermark" in text  # its re-encoded copy
    assert "Content Credentials none; corners" in text  # a cropped and turned copy
    assert "turned 3° to the left, cropped to" in text
    assert "the stored manifest was found" in text
    [clip] = (tmp_path / "demo" / "generated").glob("likeness-*[0-9].mp4")
    assert f"{clip.name}: Content Credentials trusted; watermark" in text
    assert f"{clip.stem}-reposted.mp4: Content Credentials none; watermark" in text
    assert re.search(r"[3-8] of 8 frames match", text)  # the reposted last second
