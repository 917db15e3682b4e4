"""Third-party apps, with no HTTP in them: registration and approval (``registry``), codes
and tokens (``tokens``), and who asks the gate (``requester``). The server's OAuth endpoints
(``server.oauth``) are the adapter from Authlib to these functions.
"""
