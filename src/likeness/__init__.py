"""likeness: local-first personalized image generation from your own photo library.

One room per concept, dependencies pointing down the flow (``../DESIGN.md`` in the project):
``store`` (catalog, vault, keys), ``library`` (folders, Takeout, decoding), ``faces`` (the face
backend: detect, align, embed; ``faces.backends`` names the default), ``people`` (grouping,
naming, and ``people.identity``: whether a face is a person's), ``consent`` (live enrolment,
signed grants, the one policy gate, the audit log), ``models`` (base models), ``adapters``
(curation, LoRA training, encrypted adapter files, export), ``generate`` (@mentions,
pipelines), ``safety`` (the output gate), ``provenance`` (watermark, fingerprint, C2PA), and
the two front ends, ``cli`` and ``server`` (the web app and the app API). ``errors`` holds the
one hierarchy of errors a user can act on.
"""

__version__ = "0.1.0"
