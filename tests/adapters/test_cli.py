"""``likeness adapter``: the workflow as a user types it, exit codes included."""

import json
import shutil

import pytest

from likeness.testing.cli import likeness


@pytest.mark.slow  # 14 s; `make test-all`
def test_adapter_workflow_and_refusals(prepared, tmp_path):
    source, person = prepared
    home = tmp_path / "home"
    shutil.copytree(source, home)
    p = str(person)

    refused = likeness(home, "adapter", "train", p, "--min-photos", "2", "--steps", "2")
    assert refused.returncode == 4 and "no grant in force for train-adapter" in refused.stderr
    assert "Traceback" not in refused.stderr

    few = likeness(home, "adapter", "dataset", p)
    assert few.returncode == 1 and "training needs at least 10" in few.stderr
    shown = likeness(home, "adapter", "dataset", p, "--min-photos", "2", "--json")
    assert shown.returncode == 0, shown.stderr
    dataset = json.loads(shown.stdout)
    assert dataset["chosen"] == 6 and (tmp_path / "home").exists()
    assert len(dataset["examples"]) == 6 and dataset["rejected"]

    granted = likeness(home, "consent", "grant", p, "--attested", "--scope", "train-adapter")
    assert granted.returncode == 0, granted.stderr
    # Two sampling steps an image for the identity score: the tiny model draws no face anyway.
    trained = likeness(
        home,
        "adapter",
        "train",
        p,
        "--min-photos",
        "2",
        "--steps",
        "3",
        "--eval-steps",
        "2",
        "--json",
    )
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["steps"] == 3 and result["identity"]["with_face"] == 0

    listed = json.loads(likeness(home, "adapter", "list", "--json").stdout)
    assert [(a["id"], a["status"], a["person"]) for a in listed] == [
        (result["id"], "ready", person)
    ]
    no_export = likeness(home, "adapter", "export", p, "--out", str(tmp_path / "x.safetensors"))
    assert no_export.returncode == 4 and "export-adapter" in no_export.stderr
    assert not (tmp_path / "x.safetensors").exists()
    likeness(home, "consent", "grant", p, "--attested", "--scope", "export-adapter")
    bad = likeness(home, "adapter", "export", p, "--out", str(tmp_path / "x"), "--format", "ckpt")
    assert bad.returncode == 1 and "unknown format" in bad.stderr
    ok = likeness(home, "adapter", "export", p, "--out", str(tmp_path / "x.safetensors"))
    assert ok.returncode == 0 and (tmp_path / "x.safetensors").stat().st_size > 0

    assert likeness(home, "adapter", "remove", result["id"]).returncode == 0
    assert json.loads(likeness(home, "adapter", "list", "--json").stdout) == []
    gone = likeness(home, "adapter", "remove", result["id"])
    assert gone.returncode == 1 and "no adapter" in gone.stderr
