"""Where the heavy half runs: in this process (the default), or on a Ray cluster of machines
the user controls (``likeness.compute.cluster``; ``--compute ray`` on the CLI and the server,
or ``$LIKENESS_COMPUTE``). Trust stays on the library machine either way: the consent gate,
the safety gate, the keys and the stamping never leave it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from likeness.errors import InvalidError, UnavailableError

if TYPE_CHECKING:
    from likeness.compute.cluster import RayCompute

#: The compute setting when no option gives one: ``local``, ``ray``, ``ray://HOST:PORT``.
COMPUTE_ENV = "LIKENESS_COMPUTE"
#: What each remote task asks of a worker when no option says (``GPU``, or a custom resource).
RESOURCE_ENV = "LIKENESS_COMPUTE_RESOURCE"


class ComputeError(InvalidError):
    """The compute setting cannot be used as given."""


class ComputeUnavailableError(UnavailableError):
    """The compute setting names a cluster that does not answer (nothing listens at its
    address, the address cannot be resolved, or ``ray`` finds no cluster on this machine)."""


def compute_from(spec: str | None = None, resource: str | None = None) -> RayCompute | None:
    """The compute ``spec`` names (default ``$LIKENESS_COMPUTE``): None for this process
    (``local`` or unset), a ``RayCompute`` for ``ray`` (the cluster this machine is a node
    of), ``ray://HOST:PORT`` (Ray Client) or ``ray:HOST:PORT`` (a cluster's address)."""
    spec = (spec or os.environ.get(COMPUTE_ENV) or "local").strip()
    if spec == "local":
        return None
    if spec == "ray" or spec.startswith("ray:"):
        try:
            from likeness.compute.cluster import RayCompute
        except ImportError:
            raise ComputeError(
                "--compute ray needs Ray: pip install 'likeness[ray]'", field="compute"
            ) from None
        if spec == "ray":
            address = "auto"
        elif spec.startswith("ray://"):
            address = spec  # Ray Client's form, as ray.init takes it
        else:
            address = spec.removeprefix("ray:")
        return RayCompute(address, resource or os.environ.get(RESOURCE_ENV) or "GPU")
    raise ComputeError(
        f"unknown compute {spec!r}: local, ray, ray://HOST:PORT or ray:HOST:PORT",
        field="compute",
    )
