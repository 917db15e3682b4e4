"""The local server: an HTTP API over the same library functions as the command line.

``create_app(lib)`` builds the FastAPI application; ``likeness serve`` runs it with uvicorn on
loopback. Built so far: owner sign-in (``owner``), sessions with CSRF tokens and a sign-in rate
limit (``sessions``), and the people routes (``people``). The web app, the job queue, live
enrolment and third-party apps are not built yet (see the README).
"""

from likeness.server.app import create_app

__all__ = ["create_app"]
