"""The ``likeness`` command line: one module per command group, each command a thin call into a
library function that is as usable from Python. Errors map to exit codes in ``common``."""

from __future__ import annotations

import typer

from likeness.cli import (
    adapters,
    compute,
    consent,
    generate,
    library,
    models,
    people,
    provenance,
    serve,
    video,
)
from likeness.cli.common import LikenessGroup

app = typer.Typer(
    cls=LikenessGroup,
    help="Local-first personalized image generation from your own photo library.",
    no_args_is_help=True,
    add_completion=False,
)
library.register(app)
app.command("generate")(generate.generate)
app.command("video")(video.video)
app.command("serve")(serve.serve)
app.add_typer(people.app, name="people")
app.add_typer(consent.app, name="consent")
app.add_typer(consent.audit_app, name="audit")
app.add_typer(models.app, name="models")
app.add_typer(adapters.app, name="adapter")
app.add_typer(provenance.app, name="provenance")
app.add_typer(compute.app, name="compute")

__all__ = ["app"]
