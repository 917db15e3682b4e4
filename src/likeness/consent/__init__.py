"""Consent: live enrolment, signed and revocable grants, the one policy gate, the audit log.

``liveness`` checks a clip (recorded or live) of a person following random head-movement
prompts; ``enrolment`` runs it against the person's photo group and records the outcome; a
passed enrolment backs a ``verified`` grant (``grants``), which photoreal work with a real
model needs, while ``attested`` grants (a signed statement without a live check) drive only the
built-in tiny models. ``policy.authorize`` is the only gate: it returns the ``Decision`` that
training, generation and export take. ``transfer`` moves a verified grant between installs;
``audit`` is the hash-chained log every decision is appended to.
"""
