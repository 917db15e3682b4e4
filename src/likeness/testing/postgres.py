"""A real PostgreSQL server for tests and benchmarks: started in a temporary folder on
loopback, thrown away afterwards.

Debian's ``postgresql`` package provides the binaries (``make setup`` installs it when run as
root). PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
system user the package creates. The server is tuned for throwaway data (no fsync): it is
for tests, never for a library.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from likeness.testing.server import free_port

#: Where Debian puts the server binaries (one folder per major version).
DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None when PostgreSQL is absent."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(DEBIAN_BINARIES.glob("*/bin/pg_ctl"), key=lambda p: p.parent.parent.name)
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """One server: ``url(name)`` is a database's SQLAlchemy URL, ``create_database`` makes
    a new one."""

    folder: Path
    port: int
    binaries: Path
    user: str = "likeness"

    @classmethod
    def start(cls) -> PostgresServer:
        binaries = find_binaries()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL is not installed (Debian: apt-get install postgresql; "
                "`make setup` does it when run as root)"
            )
        folder = Path(tempfile.mkdtemp(prefix="likeness-pg-"))
        os.chmod(folder, 0o755)
        server = cls(folder=folder, port=free_port(), binaries=binaries)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        server._run(
            "initdb",
            "-D",
            str(folder / "data"),
            "-A",
            "trust",
            "-U",
            server.user,
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = (
            f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        server._run(
            "pg_ctl",
            "-D",
            str(folder / "data"),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "start",
        )
        return server

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.binaries / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip() or done.stdout.strip()}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database: its URL (``copy_database`` copies one)."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        _admin(self.url("postgres"), f'CREATE DATABASE "{name}"')
        return self.url(name)


def _admin(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE DATABASE cannot run in one)."""
    import psycopg

    parsed = make_url(url)
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(statement)  # type: ignore[arg-type,unused-ignore]  # names made here


def copy_database(url: str) -> str:
    """A new database on ``url``'s server holding a copy of ``url``'s: its URL. The source
    must have no open connections (PostgreSQL copies a template only when idle)."""
    parsed = make_url(url)
    name = f"c_{uuid.uuid4().hex[:16]}"
    _admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"')
    return parsed.set(database=name).render_as_string(hide_password=False)
