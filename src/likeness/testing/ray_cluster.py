"""A real Ray cluster on loopback for tests and benchmarks: a head node (the library
machine: no CPU for tasks) and worker nodes, each its own ``ray start --block`` process group
with its own resources, as GPU machines joining over a network would be.

A worker node can be killed outright (``kill -9`` of its whole process group: its raylet,
object store and task workers), as a machine that loses power is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from likeness.testing.server import free_port

#: The resource every test worker offers (tasks ask for one): stands in for a GPU.
WORKER_RESOURCE = "likeness_worker"
#: Every node here shares this machine's cores: none collects metrics or runs a log monitor
#: (each node's agents poll every few seconds, which on two cores is CPU the workers lose; a
#: real cluster's machines each bear their own).
LEAN_NODE = {"RAY_enable_metrics_collection": "0"}
#: How quickly the head declares a silent node dead (a killed worker in a test).
FAST_HEALTH_CHECKS = {
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "4",
}


def _ray_command() -> str:
    """Ray's command beside this Python (a virtual environment's), else on the PATH."""
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


@dataclass
class RayNode:
    name: str
    process: subprocess.Popen[bytes]
    resources: dict[str, float]

    def kill(self) -> None:
        """``kill -9`` the node's whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()


@dataclass
class RayCluster:
    """``address`` is what ``ray.init`` and ``ray start --address`` take."""

    folder: Path
    port: int
    head: RayNode | None = None
    workers: list[RayNode] = field(default_factory=list)
    #: A driver's environment (a TLS cluster's certificate): set, ``wait_for`` connects
    #: from a process of its own with it, as this process may be a driver of another cluster.
    driver_env: dict[str, str] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        workers: int = 2,
        env: dict[str, dict[str, str]] | None = None,
        head_cpus: int = 1,
        driver_env: dict[str, str] | None = None,
    ) -> RayCluster:
        """A head and ``workers`` worker nodes (named ``w0``, ``w1``...; ``env`` adds
        variables to a named node's processes, ``"head"`` included). Returns once every
        worker has joined."""
        folder = Path(tempfile.mkdtemp(prefix="likeness-ray-"))
        cluster = cls(folder=folder, port=free_port(), driver_env=driver_env)
        cluster.head = cluster._node(
            "head",
            [
                "--head",
                f"--port={cluster.port}",
                f"--num-cpus={head_cpus}",
                "--include-dashboard=false",
            ],
            (env or {}).get("head", {}),
        )
        try:
            cluster._wait_for_head()
            for i in range(workers):  # one at a time: two raylets starting at once on two
                name = f"w{i}"  # cores can miss Ray's start-up deadline
                cluster.add_worker(name, (env or {}).get(name, {}))
                cluster.wait_for(WORKER_RESOURCE, i + 1)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def add_worker(
        self, name: str, env: dict[str, str] | None = None, shared: bool = True
    ) -> RayNode:
        """A worker node offering ``likeness_worker_<name>`` and (``shared``) the resource
        every test task asks for."""
        resources: dict[str, float] = {f"{WORKER_RESOURCE}_{name}": 1}
        if shared:
            resources[WORKER_RESOURCE] = 1
        node = self._node(
            name,
            [f"--address={self.address}", "--num-cpus=1", f"--resources={json.dumps(resources)}"],
            env or {},
        )
        node.resources = resources
        self.workers.append(node)
        return node

    def _ports(self) -> list[str]:
        """Every port a node opens, free ones chosen here: several nodes on one machine
        would otherwise reach for the same defaults (the dashboard agent's, the metrics')
        and one of them would fail to join."""
        named = [
            "node-manager-port",
            "object-manager-port",
            "metrics-export-port",
            "dashboard-agent-listen-port",
            "dashboard-agent-grpc-port",
            "runtime-env-agent-port",
        ]
        ports = [f"--{option}={free_port()}" for option in named]
        first = 20000 + 200 * len(self.workers) + (0 if self.head is None else 1000)
        return [*ports, f"--min-worker-port={first}", f"--max-worker-port={first + 199}"]

    def _node(self, name: str, args: list[str], env: dict[str, str]) -> RayNode:
        environment = {
            **os.environ,
            **FAST_HEALTH_CHECKS,
            **LEAN_NODE,
            "RAY_USAGE_STATS_ENABLED": "0",
            "OMP_NUM_THREADS": "1",
            **env,
        }
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the node's lifetime
        process = subprocess.Popen(
            [
                _ray_command(),
                "start",
                "--block",
                "--disable-usage-stats",
                "--include-log-monitor=false",
                "--node-ip-address=127.0.0.1",  # loopback only (the default is the LAN's)
                "--object-store-memory=300000000",
                *self._ports(),
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,  # its own process group: kill() takes all of it
        )
        return RayNode(name, process, {})

    def _wait_for_head(self, timeout_s: float = 120.0) -> None:
        """Until the head's GCS answers on its port (a driver or a node that connects before
        that waits a minute inside Ray's core, then ends the process)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.head is not None and self.head.process.poll() is not None:
                log = (self.folder / "head.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the Ray head did not start:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("the Ray head did not open its port") from None
                time.sleep(0.3)

    def wait_for(self, resource: str, count: float, timeout_s: float = 120.0) -> None:
        """Until the cluster offers ``count`` of ``resource`` (nodes joining or leaving).

        Asked through this process's own connection when it is a driver of the cluster
        already, else from a driver process of its own: a process that joins a Ray cluster,
        leaves it and joins again can crash on its way out (Ray's core worker is not made to
        start twice in one process, ray-project/ray#31145; the compute tests' process did so
        at each worker's start and crashed at exit once in a few runs, after every test
        passed)."""
        import ray

        if self.driver_env is not None or not ray.is_initialized():
            self._wait_in_own_driver(resource, count, timeout_s)
            return
        deadline = time.monotonic() + timeout_s
        while ray.available_resources().get(resource, 0) < count and (
            ray.cluster_resources().get(resource, 0) < count
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster offers {ray.cluster_resources()}\n{self.logs()}")
            time.sleep(0.2)

    def _wait_in_own_driver(self, resource: str, count: float, timeout_s: float) -> None:
        script = (
            "import ray, sys, time\n"
            f"ray.init(address={self.address!r}, log_to_driver=False, logging_level='ERROR')\n"
            f"deadline = time.monotonic() + {timeout_s}\n"
            f"while ray.cluster_resources().get({resource!r}, 0) < {count}:\n"
            "    if time.monotonic() > deadline:\n"
            "        sys.exit(f'the cluster offers {ray.cluster_resources()}')\n"
            "    time.sleep(0.2)\n"
        )
        environment = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(self.driver_env or {})}
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout_s + 60,
        )
        if done.returncode != 0:
            raise TimeoutError(f"{done.stderr[-3000:]}\n{self.logs()}")

    def logs(self) -> str:
        """The end of every node's log (for a failure's message)."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-6000:]}"
            for log in sorted(self.folder.glob("*.log"))
        )

    def node_of(self, node_id: str) -> RayNode:
        """The worker whose Ray node id is ``node_id``."""
        import ray

        for info in ray.nodes():
            if info["NodeID"] == node_id:
                for worker in self.workers:
                    if f"{WORKER_RESOURCE}_{worker.name}" in info["Resources"]:
                        return worker
        raise LookupError(f"no worker node {node_id}")

    def stop(self) -> None:
        for node in [*self.workers, *([self.head] if self.head else [])]:
            node.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
