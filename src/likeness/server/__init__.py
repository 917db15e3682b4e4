"""The local server: an HTTP API, the web app and the app API over the same library functions
as the command line.

``create_app(lib)`` builds the FastAPI application; ``likeness serve`` runs it with uvicorn on
loopback. Owner sign-in (``owner``, ``sessions``: CSRF tokens, a guard that slows passphrase
guessing), the people, faces, consent and adapter routes, the job queue (``jobs``: import,
training and generation, with per-requester quotas and cancel), live enrolment over a
WebSocket (``enrolment``), the web pages (``web``), third-party apps (the ``likeness.apps``
room) behind OAuth 2 with PKCE (``oauth``: the adapter to Authlib), and the defences every
response carries (``security``: allowed hosts, body limits, CSP).
"""

from likeness.server.app import create_app

__all__ = ["create_app"]
