"""The library's side of one remote job, on the library machine (a Ray actor pinned to its
node): the gate's Decision, asked by a worker before every step and image; for a training,
its sealed checkpoints and its progress. Imports only what that needs: a job's keeper
starts in a fresh process on the library machine, and its start is part of every job's
dispatch."""

from __future__ import annotations

from typing import Any

from likeness.adapters.checkpoints import LibraryTraining
from likeness.consent.policy import Decision
from likeness.store import Library


class ConsentKeeper:
    """One job's keeper (module docstring)."""

    def __init__(
        self,
        home: str,
        decision: Decision,
        person_uid: str | None = None,
        adapter_id: str | None = None,
    ) -> None:
        self.lib = Library.open(home)
        self.training = LibraryTraining(self.lib, decision, person_uid or "", adapter_id or "")
        self.done, self.steps = 0, 0
        self.loss: float | None = None
        self.where: str | None = None
        #: How many times a worker asked (before each image, clip, step): for an operator.
        self.asked = 0

    def in_force(self) -> None:
        self.asked += 1
        self.training.in_force()

    def restore_point(self) -> dict[str, Any] | None:
        return self.training.restore_point()

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.training.checkpoint(state)

    def progress(self, done: int, steps: int, loss: float, where: str) -> None:
        self.done, self.steps, self.loss, self.where = done, steps, loss, where

    def status(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "steps": self.steps,
            "loss": self.loss,
            "where": self.where,
            "asked": self.asked,
            "resumed_from": self.training.resumed_from,
        }
