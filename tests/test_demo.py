from rich.console import Console

from likeness.demo import run_demo


def test_demo_finds_the_astronaut_as_one_person(tmp_path):
    console = Console(record=True, width=120)
    assert run_demo(tmp_path / "demo", console) == 0
    text = console.export_text()
    assert "Named person" in text
    from likeness.people.manage import list_people
    from likeness.store import Library

    with Library.open(tmp_path / "demo" / "library") as lib:
        people = list_people(lib)
    assert [(p.name, p.is_owner) for p in people] == [("Astronaut", True)]
    assert people[0].face_count == 8  # 8 distinct photos of her; the exact copy is linked
    assert (tmp_path / "demo" / f"person-{people[0].id}.jpg").exists()
