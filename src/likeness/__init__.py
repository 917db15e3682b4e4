"""likeness: local-first personalized image generation from your own photo library.

The package is organised one room per concept (see the design brief): ``store`` (catalog and
vault), ``library`` (import), ``faces`` (detect, align, embed), ``people`` (grouping and naming).
"""

__version__ = "0.1.0"
