"""``likeness adapter export --out``: a folder gets a file named for the person and format; a
path that cannot be written is a clear error, never a traceback."""

import pytest
from typer.testing import CliRunner

from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
from likeness.cli import app
from likeness.people.manage import name_person
from tests.adapters.conftest import RULES


@pytest.fixture
def trained(granted):
    decision = authorize_training(granted.lib, granted.person, "tiny-sd15")
    params = TrainingParams(steps=2, learning_rate=1e-3)
    train_adapter(granted.lib, decision, granted.person, "tiny-sd15", params, rules=RULES)
    return granted


def _export(lib, person, out, fmt="kohya"):
    args = ["adapter", "export", str(person), "--format", fmt, "--out", str(out)]
    return CliRunner().invoke(app, [*args, "--home", str(lib.home)])


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def test_export_into_a_folder_names_the_file_for_the_person_and_format(trained, tmp_path):
    from safetensors import safe_open

    lib, person = trained.lib, trained.person
    folder = tmp_path / "loras"
    folder.mkdir()
    unnamed = _export(lib, person, folder)
    _no_traceback(unnamed)
    assert unnamed.exit_code == 0, unnamed.output
    assert [p.name for p in folder.iterdir()] == [f"person-{person}-kohya.safetensors"]

    name_person(lib, person, "Zoë O'Brien / Sr.")  # a name is not a safe file name as it is
    named = _export(lib, person, folder, fmt="diffusers")
    _no_traceback(named)
    assert named.exit_code == 0, named.output
    written = folder / "zoe-o-brien-sr-diffusers.safetensors"
    assert written.is_file() and str(written) in named.output.replace("\n", "")
    with safe_open(str(written), "pt") as f:
        names = list(f.keys())
    assert any(k.startswith("unet.") for k in names)


def test_export_to_a_missing_folder_is_a_clear_error(trained, tmp_path):
    out = tmp_path / "no-such-folder" / "alice.safetensors"
    result = _export(trained.lib, trained.person, out)
    _no_traceback(result)
    assert result.exit_code == 1
    assert "no such folder" in result.output and str(out.parent) in result.output
    assert not out.parent.exists()  # not created behind the user's back
