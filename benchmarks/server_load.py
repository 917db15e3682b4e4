"""A bounded load on the local server over loopback: clients listing people while others
queue tiny-model generations.

The server (uvicorn, one process, the real app) serves a library of two people with tiny-sd15
adapters (built here, or ``--home`` of one already built; it is copied, never changed). Each
of ``--clients`` threads signs in and, for ``--seconds``, lists people; ``--generators`` of
them also queue a generation (``--steps`` denoising steps) every ``--every`` seconds. The
queue holds at most ``--max-pending`` jobs: a queued job must finish, a refused one must have
been told 429 with Retry-After. Prints requests/s, latency percentiles, and the jobs' fate.

    .venv/bin/python benchmarks/server_load.py [--clients 8] [--generators 2] [--seconds 20]
        [--steps 2] [--every 0.5] [--max-pending 4] [--home HOME]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

PASSPHRASE = "load test passphrase"


def _client(url: str, stop: float, generate: bool, every: float, alice: int, out: dict) -> None:
    import httpx

    from likeness.server.sessions import CSRF_HEADER

    with httpx.Client(base_url=url, timeout=60) as http:
        token = http.post("/api/sign-in", json={"passphrase": PASSPHRASE}).json()["csrf_token"]
        headers = {CSRF_HEADER: token}
        next_job = time.monotonic()
        while time.monotonic() < stop:
            started = time.perf_counter()
            response = http.get("/api/people")
            out["latency"].append(time.perf_counter() - started)
            out["statuses"].append(response.status_code)
            if generate and time.monotonic() >= next_job:
                next_job = time.monotonic() + every
                body = {"prompt": f"@{alice} in a garden", "style": "watercolor", "steps": 2}
                started = time.perf_counter()
                queued = http.post("/api/jobs/generate", json=body, headers=headers)
                out["latency"].append(time.perf_counter() - started)
                out["statuses"].append(queued.status_code)
                if queued.status_code == 202:
                    out["accepted"].append(queued.json()["id"])
                elif queued.status_code == 429 and queued.headers.get("Retry-After"):
                    out["refused"] += 1
                else:
                    out["unexpected"].append((queued.status_code, queued.text[:200]))


def _load(url: str, args, alice: int) -> tuple[dict, dict[str, str], float]:
    """The clients' load, then every accepted job followed to its end: (what the clients
    saw, each accepted job's final state, seconds of load)."""
    import httpx

    out = {"latency": [], "statuses": [], "accepted": [], "refused": 0, "unexpected": []}
    stop = time.monotonic() + args.seconds
    started = time.perf_counter()
    clients = [
        threading.Thread(
            target=_client,
            args=(url, stop, i < args.generators, args.every, alice, out),
        )
        for i in range(args.clients)
    ]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    elapsed = time.perf_counter() - started
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("/api/sign-in", json={"passphrase": PASSPHRASE})
        deadline = time.monotonic() + 600
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {j: http.get(f"/api/jobs/{j}").json()["state"] for j in out["accepted"]}
            if all(s in ("done", "failed", "interrupted", "cancelled") for s in states.values()):
                break
            time.sleep(0.5)
    return out, states, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--generators", type=int, default=2, help="clients that also generate")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between generations")
    parser.add_argument("--max-pending", type=int, default=4)
    parser.add_argument("--home", type=Path, default=None, help="a trained two-people library")
    args = parser.parse_args()

    from likeness.consent.grants import Scope, Trust, issue_grant
    from likeness.people.manage import list_people
    from likeness.server import create_app
    from likeness.server.owner import set_owner_passphrase
    from likeness.server.sessions import SignInGuard
    from likeness.store import Library
    from likeness.testing.libraries import trained_two_people_library
    from likeness.testing.server import served_on_loopback

    work = Path(tempfile.mkdtemp(prefix="likeness-load-"))
    try:
        source = args.home or trained_two_people_library(work / "built")[0]
        shutil.copytree(source, work / "home")
        lib = Library.open(work / "home")
        set_owner_passphrase(lib, PASSPHRASE)
        alice = next(p.id for p in list_people(lib) if p.is_owner)
        issue_grant(lib, alice, [Scope.GENERATE_STYLIZED], Trust.ATTESTED)
        # Every client signs in at once with the right passphrase: a guard with that many
        # free tries, so none waits a turn kept for guessers (benchmarks/sign_in_guard.py).
        guard = SignInGuard(free=args.clients + 1)
        app = create_app(lib, max_pending_jobs=args.max_pending, sign_in_guard=guard)
        with served_on_loopback(app) as url:
            out, states, elapsed = _load(url, args, alice)
        lib.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    latency = sorted(out["latency"])
    p50 = statistics.median(latency) * 1000
    p99 = latency[min(len(latency) - 1, int(0.99 * len(latency)))] * 1000
    done = sum(s == "done" for s in states.values())
    print(
        f"{args.clients} clients ({args.generators} generating) for {args.seconds:.0f} s on "
        f"loopback, queue bounded at {args.max_pending}"
    )
    print(
        f"requests: {len(latency)} in {elapsed:.1f} s = {len(latency) / elapsed:.1f}/s; "
        f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    print(
        f"generations: {len(out['accepted'])} accepted, {done} of them completed "
        f"({len(out['accepted']) - done} not); {out['refused']} refused with 429 and "
        f"Retry-After; {len(out['unexpected'])} other answers"
    )
    server_errors = sum(s >= 500 for s in out["statuses"])
    print(f"server errors: {server_errors}")
    for status, text in out["unexpected"]:
        print(f"  unexpected answer {status}: {text}")
    ok = done == len(out["accepted"]) and not out["unexpected"] and not server_errors
    print("every accepted job completed and every refused one got 429" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
