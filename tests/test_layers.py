"""Dependencies point down the flow (DESIGN.md): each room imports only rooms below it, also
inside functions. A room that needs something from above it is the sign of a missing
accessor or of code in the wrong room."""

from __future__ import annotations

import ast
from pathlib import Path

import likeness

#: Bottom to top. A room may import the rooms before it in this list, never after.
ORDER = [
    ("errors", "clock", "heap", "paths"),
    ("store",),
    ("library",),
    ("faces",),
    ("people",),
    ("importing",),
    ("consent",),
    ("models",),
    ("adapters",),
    ("safety",),
    ("provenance",),
    ("generate",),
    ("compute",),
    ("apps",),
    ("workflows",),
    ("demo", "server"),
    ("cli",),
    ("testing",),  # what the tests and benchmarks build with: may use any room
]
RANK = {room: rank for rank, rooms in enumerate(ORDER) for room in rooms}
SRC = Path(likeness.__file__).parent


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "likeness":
                found |= {f"likeness.{a.name}" for a in node.names}
            elif node.module.startswith("likeness."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("likeness.")}
    return found


def test_every_room_is_placed():
    rooms = {p.stem if p.is_file() else p.name for p in SRC.iterdir()}
    rooms = {r for r in rooms if not r.startswith("__") and r not in {"py", "egg-info"}}
    assert rooms <= set(RANK), f"rooms missing from ORDER: {sorted(rooms - set(RANK))}"


def test_no_room_imports_a_room_above_it():
    upward = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        here = room_of(module)
        if here == "__init__" or ".store.migrations." in module:
            continue
        for target in imports_of(path):
            there = room_of(target)
            if there != here and RANK[there] > RANK[here]:
                upward.append(f"{path.relative_to(SRC)} imports {target}")
    assert not upward, "\n".join(upward)


def test_no_test_or_benchmark_imports_a_private_name():
    """Tests and benchmarks use what a user of the library can: a private name they need is
    a public one missing."""
    private = []
    root = SRC.parents[1]
    for folder in ("tests", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("likeness"):
                    private += [
                        f"{path.relative_to(root)}: {node.module}.{a.name}"
                        for a in node.names
                        if a.name.startswith("_")
                    ]
    assert not private, "\n".join(private)
