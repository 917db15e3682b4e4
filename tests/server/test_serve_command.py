"""``likeness serve``: loopback by default; any other address needs --allow-remote."""

from __future__ import annotations

from typer.testing import CliRunner

from likeness.cli import app
from likeness.cli.serve import is_loopback


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")


def test_a_non_loopback_address_needs_allow_remote(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "--allow-remote" in result.output


def test_without_a_terminal_and_no_passphrase_it_says_how_to_set_one(tmp_path):
    result = CliRunner().invoke(app, ["serve", "--home", str(tmp_path)], input="")
    assert result.exit_code == 1
    assert "no owner passphrase is set" in result.output
