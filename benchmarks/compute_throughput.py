"""Compute on Ray: 16 tiny-model generations (and a short training) in this process, on a Ray
cluster of one worker and of two, all on this machine's loopback.

The cluster is real (``likeness.testing.ray_cluster``: a head with no CPU for tasks, the
library machine, and worker nodes of one CPU each, as GPU machines would join). Each figure
is a whole ``generate_images`` or ``train_adapter`` call: the consent keeper, the adapters'
transport, the sampling on the workers, and the safety gate and stamping at home. Each
configuration runs a warm-up job first (its workers start and load the model once; that
start is printed apart), then the timed jobs.

- throughput: images a second over ``--jobs`` jobs of ``--images`` images, and the ratio of
  two workers over one (the target of issue 28: at least 1.8x on two cores), for whole jobs
  and for the sampling alone (on one machine of two cores the library's own work, the safety
  gate and the stamping, takes CPU from the two workers; on a real cluster it does not);
- dispatch overhead: a one-image, one-step job on the cluster against the same job here
  (the median of ``--jobs``);
- training: a ``--train-steps`` tiny training here and on one worker.

    .venv/bin/python benchmarks/compute_throughput.py [--images 16] [--steps 20] [--jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import trained_astronaut


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=60)
    args = parser.parse_args()
    import ray

    from likeness.adapters.curation import CurationRules
    from likeness.adapters.training import TrainingParams, authorize_training, train_adapter
    from likeness.compute.cluster import RayCompute
    from likeness.generate.outputs import LocalCompute
    from likeness.generate.run import (
        GenerationOptions,
        authorize_generation,
        generate_images,
        generation_action,
        plan_generation,
        sampling_request,
    )
    from likeness.people.manage import name_person
    from likeness.testing.ray_cluster import WORKER_RESOURCE, RayCluster

    with tempfile.TemporaryDirectory() as tmp:
        lib, person, _, _ = trained_astronaut(Path(tmp), "generate-stylized")
        name_person(lib, person, "Ada")
        prompt = "@Ada reading in a garden"
        many = GenerationOptions(count=args.images, steps=args.steps, style="watercolor")
        one = GenerationOptions(count=1, steps=1, style="watercolor")
        decision = authorize_generation(lib, prompt, many)
        out = Path(tmp) / "out"

        def job(options: GenerationOptions, compute) -> float:
            started = time.perf_counter()
            result = generate_images(lib, decision, prompt, out, options, compute=compute)
            assert len(result.written) == options.count, [i.reason for i in result.images]
            return time.perf_counter() - started

        plan = plan_generation(
            lib,
            decision,
            prompt,
            generation_action(many.style),
            many.model,
            many.style,
            (None, None),
        )
        request, _ = sampling_request(lib, plan, many)

        def sampling(compute) -> float:
            """The sampling alone (``compute.images``): no gate, no stamping at home."""
            started = time.perf_counter()
            assert len(list(compute.images(lib, decision, request))) == many.count
            return time.perf_counter() - started

        def measure(name: str, compute) -> tuple[float, float, float, float]:
            """(cold first job, images a second, one-image job's median seconds, images a
            second sampled alone)."""
            cold = job(GenerationOptions(count=2, steps=1, style="watercolor"), compute)
            spent = [job(many, compute) for _ in range(args.jobs)]
            small = statistics.median(job(one, compute) for _ in range(args.jobs * 2))
            alone = [sampling(compute) for _ in range(args.jobs)]
            rate = args.images * args.jobs / sum(spent)
            sampled = args.images * args.jobs / sum(alone)
            print(
                f"{name:>16}: {rate:.2f} images/s over {args.jobs} jobs of {args.images} "
                f"({', '.join(f'{s:.1f}' for s in spent)} s), sampling alone {sampled:.2f} "
                f"images/s; a 1-image 1-step job {small * 1000:.0f} ms; first job {cold:.1f} s"
            )
            return cold, rate, small, sampled

        _, local_rate, local_small, _ = measure("this process", LocalCompute())
        rates, smalls, alone = {}, {}, {}
        for workers in (1, 2):
            cluster = RayCluster.start(workers=workers)
            try:
                compute = RayCompute(cluster.address, resource=WORKER_RESOURCE)
                _, rates[workers], smalls[workers], alone[workers] = measure(
                    f"ray, {workers} worker(s)", compute
                )
                if workers == 1:
                    params = TrainingParams(steps=args.train_steps, learning_rate=1e-3)
                    rules = CurationRules(min_photos=2)
                    timings = {}
                    for where, target in (("this process", None), ("ray, 1 worker", compute)):
                        started = time.perf_counter()
                        train_adapter(
                            lib,
                            authorize_training(lib, person, "tiny-sd15"),
                            person,
                            "tiny-sd15",
                            params,
                            rules=rules,
                            compute=target,
                        )
                        timings[where] = time.perf_counter() - started
                    print(
                        f"training, {args.train_steps} steps: this process "
                        f"{timings['this process']:.1f} s, one worker "
                        f"{timings['ray, 1 worker']:.1f} s "
                        f"({timings['ray, 1 worker'] / timings['this process']:.2f}x)"
                    )
            finally:
                ray.shutdown()
                cluster.stop()
        print(
            f"two workers over one: {rates[2] / rates[1]:.2f}x whole jobs (the safety gate and "
            f"the stamping at home share the two cores with the workers), "
            f"{alone[2] / alone[1]:.2f}x sampling alone (target >= 1.8x); one worker over "
            f"this process: {rates[1] / local_rate:.2f}x"
        )
        print(
            f"dispatch overhead of a job (1 image, 1 step): one worker "
            f"{(smalls[1] - local_small) * 1000:.0f} ms, two workers "
            f"{(smalls[2] - local_small) * 1000:.0f} ms over this process's "
            f"{local_small * 1000:.0f} ms"
        )
        lib.close()


if __name__ == "__main__":
    main()
