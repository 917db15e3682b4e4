"""Passphrase guessing against the local server, as an attacker on this machine would try it.

Serves an empty library with ``likeness serve``'s app (the default ``SignInGuard``) on
loopback. The owner's browser signs in once (it keeps its device cookie). Then ``--guesses``
wrong passphrases are sent at once from clients without cookies; prints how many were
checked (401) and when their turn came, how many were turned away (429) and how fast; then
how long a browser that never signed in here, and the owner's browser, take to sign in with
the right passphrase while the guesser's count is full.

    .venv/bin/python benchmarks/sign_in_guard.py [--guesses 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PASSPHRASE = "the owner's own passphrase"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guesses", type=int, default=40)
    args = parser.parse_args()

    import httpx

    from likeness.server import create_app
    from likeness.server.owner import set_owner_passphrase
    from likeness.store import Library
    from likeness.testing.server import served_on_loopback

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "home")
        set_owner_passphrase(lib, PASSPHRASE)
        with served_on_loopback(create_app(lib)) as url:
            owner = httpx.Client(base_url=url, timeout=120)
            assert owner.post("/api/sign-in", json={"passphrase": PASSPHRASE}).status_code == 200
            sent = time.monotonic()

            def guess(i: int) -> tuple[int, float]:
                answer = httpx.post(
                    f"{url}/api/sign-in", json={"passphrase": f"guess {i:04d}"}, timeout=120
                )
                return answer.status_code, time.monotonic() - sent

            with ThreadPoolExecutor(args.guesses) as pool:
                answers = list(pool.map(guess, range(args.guesses)))

            def sign_in(client: httpx.Client) -> tuple[int, float]:
                started = time.monotonic()
                status = client.post("/api/sign-in", json={"passphrase": PASSPHRASE}).status_code
                return status, time.monotonic() - started

            with httpx.Client(base_url=url, timeout=120) as stranger:
                stranger_status, stranger_s = sign_in(stranger)
            owner_status, owner_s = sign_in(owner)
            owner.close()
        lib.close()

    checked = sorted(t for status, t in answers if status == 401)
    refused = [t for status, t in answers if status == 429]
    other = [status for status, _ in answers if status not in (401, 429)]
    print(f"{args.guesses} wrong passphrases sent at once to the server on loopback")
    print(
        f"checked (401): {len(checked)}, answered at "
        + ", ".join(f"{t:.1f}" for t in checked)
        + " s"
    )
    print(
        f"turned away (429 with Retry-After): {len(refused)}, all within "
        f"{max(refused, default=0):.2f} s; other answers: {other or 'none'}"
    )
    print(
        f"then the right passphrase: from a browser that never signed in here {stranger_status} "
        f"in {stranger_s:.2f} s; from the owner's browser {owner_status} in {owner_s:.2f} s"
    )


if __name__ == "__main__":
    main()
