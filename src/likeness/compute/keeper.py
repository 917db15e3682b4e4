"""The library's side of remote jobs, on the library machine: for each job, the gate's
Decision, asked by a worker before every step and image, and for a training its sealed
checkpoints and its progress (``ConsentKeeper``). One ``KeeperHost`` actor, pinned to the
library machine's node, holds the keepers of every job one process sends (a server's jobs,
a command's one): starting an actor starts a process, which cost each job 0.4 s of dispatch
and 1 s of the library machine's CPU. Imports only what the keepers need: the host starts
in a fresh process with the first job."""

from __future__ import annotations

from typing import Any

from likeness.adapters.checkpoints import LibraryTraining
from likeness.consent.policy import Decision
from likeness.errors import ConflictError
from likeness.store import Library


class ConsentKeeper:
    """One job's keeper (module docstring): its Decision, and for a training (``person_uid``
    and ``adapter_id`` given) the library's side of the run (``LibraryTraining``)."""

    def __init__(
        self,
        home: str,
        decision: Decision,
        person_uid: str | None = None,
        adapter_id: str | None = None,
    ) -> None:
        self.lib = Library.open(home)
        self.decision = decision
        self.training = (
            LibraryTraining(self.lib, decision, person_uid or "", adapter_id)
            if adapter_id
            else None
        )
        self.done, self.steps = 0, 0
        self.loss: float | None = None
        self.where: str | None = None
        #: How many times a worker asked (before each image, clip, step): for an operator.
        self.asked = 0

    def in_force(self) -> None:
        self.asked += 1
        self.decision.check_in_force(self.lib)

    def _training(self) -> LibraryTraining:
        if self.training is None:
            raise ConflictError("this job is no training: it keeps no checkpoints")
        return self.training

    def restore_point(self) -> dict[str, Any] | None:
        return self._training().restore_point()

    def checkpoint(self, state: dict[str, Any]) -> None:
        self._training().checkpoint(state)

    def progress(self, done: int, steps: int, loss: float, where: str) -> None:
        self.done, self.steps, self.loss, self.where = done, steps, loss, where

    def status(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "steps": self.steps,
            "loss": self.loss,
            "where": self.where,
            "asked": self.asked,
            "resumed_from": self.training.resumed_from if self.training else 0,
        }


class JobEndedError(ConflictError):
    """A worker asked about a job its library no longer keeps (finished, refused, or given
    up on): the worker stops."""


class KeeperHost:
    """The keepers of one process's remote jobs, by job name (module docstring). A worker's
    every question names its job; a job the host does not keep gets ``JobEndedError``."""

    def __init__(self) -> None:
        self.jobs: dict[str, ConsentKeeper] = {}

    def open(
        self,
        job: str,
        home: str,
        decision: Decision,
        person_uid: str | None = None,
        adapter_id: str | None = None,
    ) -> None:
        self.close(job)
        self.jobs[job] = ConsentKeeper(home, decision, person_uid, adapter_id)

    def close(self, job: str) -> None:
        """Forgets ``job`` (its workers' next question ends them) and closes its catalog."""
        keeper = self.jobs.pop(job, None)
        if keeper is not None:
            keeper.lib.close()

    def names(self) -> list[str]:
        """The jobs kept now: for an operator (``ray list actors`` shows the host)."""
        return list(self.jobs)

    def _keeper(self, job: str) -> ConsentKeeper:
        try:
            return self.jobs[job]
        except KeyError:
            raise JobEndedError(f"job {job} has ended on the library machine") from None

    def in_force(self, job: str) -> None:
        self._keeper(job).in_force()

    def restore_point(self, job: str) -> dict[str, Any] | None:
        return self._keeper(job).restore_point()

    def checkpoint(self, job: str, state: dict[str, Any]) -> None:
        self._keeper(job).checkpoint(state)

    def progress(self, job: str, done: int, steps: int, loss: float, where: str) -> None:
        self._keeper(job).progress(done, steps, loss, where)

    def status(self, job: str) -> dict[str, Any]:
        return self._keeper(job).status()
