"""Contact sheets show faces (biometric data): each file is 0600 and a folder made for it 0700,
whether it goes to the vault (the default) or where ``--out`` says."""

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from likeness.adapters.curation import CurationRules, curate, write_dataset_sheet
from likeness.cli import app
from likeness.people.contact_sheet import write_contact_sheet
from likeness.testing.libraries import copy_home


@pytest.fixture(scope="module")
def prepared(astronaut_home) -> tuple[Path, int]:
    return astronaut_home


@pytest.fixture
def lib(prepared, tmp_path):
    library = copy_home(prepared[0], tmp_path / "home")
    yield library
    library.close()


@pytest.fixture(autouse=True)
def usual_umask():
    old = os.umask(0o022)  # what most systems use: files 0644, folders 0755 unless told
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_contact_sheet_is_readable_by_its_owner_only(lib, prepared, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    out = shared / "new" / "deeper" / "sheet.jpg"
    assert write_contact_sheet(lib, prepared[1], out) > 0
    assert _mode(out) == 0o600
    assert _mode(shared / "new") == _mode(shared / "new" / "deeper") == 0o700
    assert _mode(shared) == 0o755  # a folder that was there is the user's: left as it was
    assert not list(shared.rglob("*.tmp"))


def test_a_rewritten_sheet_is_private_even_if_the_old_one_was_not(lib, prepared, tmp_path):
    out = tmp_path / "sheet.png"
    out.write_bytes(b"old")
    out.chmod(0o644)
    assert write_contact_sheet(lib, prepared[1], out) > 0
    assert _mode(out) == 0o600 and out.read_bytes()[:4] == b"\x89PNG"


def test_people_show_writes_into_the_vault_privately(lib, prepared):
    result = CliRunner().invoke(app, ["people", "show", str(prepared[1]), "--home", str(lib.home)])
    assert result.exit_code == 0, result.output
    sheet = Path(result.output.strip())
    assert sheet == lib.vault / "contact-sheets" / f"person-{prepared[1]}.jpg"
    assert _mode(sheet) == 0o600 and _mode(sheet.parent) == 0o700


def test_a_training_set_sheet_and_its_captions_are_private(lib, prepared, tmp_path):
    chosen = curate(lib, prepared[1], 64, CurationRules(min_photos=2))
    out = write_dataset_sheet(chosen, tmp_path / "sets" / "person.png")
    assert _mode(out) == _mode(out.with_suffix(".txt")) == 0o600
    assert _mode(out.parent) == 0o700
    assert "face" in out.with_suffix(".txt").read_text()


def test_the_adapter_dataset_command_writes_into_the_vault_privately(lib, prepared):
    args = ["adapter", "dataset", str(prepared[1]), "--min-photos", "2", "--json"]
    result = CliRunner().invoke(app, [*args, "--home", str(lib.home)])
    assert result.exit_code == 0, result.output
    sheet = lib.vault / "datasets" / f"person-{prepared[1]}.png"
    assert _mode(sheet) == _mode(sheet.with_suffix(".txt")) == 0o600
