"""The library's side of a training run, wherever its steps run: the gate's Decision asked
before every step, checkpoints sealed with the person's key in the library, progress.

Kept apart from ``training`` (which imports the model code) so that what runs on the
library machine for a remote run (``compute.keeper``) starts light.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from likeness.adapters import storage
from likeness.adapters.tables import AdapterRecord
from likeness.consent.policy import Decision
from likeness.store import Library


class TrainingHome(Protocol):
    """The library's side of a run, wherever its steps run: asked before every step, given
    each checkpoint to seal and each step's loss, and asked where to start."""

    def in_force(self) -> None:
        """Raise ``ConsentWithdrawnError`` if the run may not take another step."""

    def restore_point(self) -> dict | None:
        """The run's last checkpoint (None: start at step 0)."""

    def checkpoint(self, state: dict) -> None:
        """Seal and keep a checkpoint (``TrainingRun.checkpoint``)."""

    def progress(self, done: int, steps: int, loss: float) -> None: ...


@dataclass
class LibraryTraining:
    """``TrainingHome`` on the library: the gate's Decision, sealed checkpoints in the
    person's folder, the adapter's record."""

    lib: Library
    decision: Decision
    person_uid: str
    adapter_id: str
    on_progress: Callable[[int, int, float], None] | None = None
    resumed_from: int = 0

    def in_force(self) -> None:
        self.decision.check_in_force(self.lib)

    def restore_point(self) -> dict | None:
        if not storage.checkpoint_path(self.lib, self.person_uid, self.adapter_id).exists():
            return None
        checkpoint = storage.load_checkpoint(self.lib, self.person_uid, self.adapter_id)
        self.resumed_from = int(checkpoint["step"])
        return checkpoint

    def checkpoint(self, state: dict) -> None:
        storage.save_checkpoint(self.lib, self.person_uid, self.adapter_id, state)
        with self.lib.session() as s:
            s.get(AdapterRecord, self.adapter_id).steps_done = int(state["step"])

    def progress(self, done: int, steps: int, loss: float) -> None:
        if self.on_progress is not None:
            self.on_progress(done, steps, loss)
