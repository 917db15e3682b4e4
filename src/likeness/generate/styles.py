"""Named styles: a prompt template and a negative prompt each. Without a style, a prompt asks
for a photograph (``generate-photoreal``); with one, for a stylized image
(``generate-stylized``), which is the scope a person may grant more readily."""

from __future__ import annotations

from dataclasses import dataclass

from likeness.errors import InvalidError


class StyleError(InvalidError):
    """An unknown style."""


@dataclass(frozen=True)
class Style:
    name: str
    template: str  # "{prompt}" stands for the user's prompt
    negative: str
    description: str


PHOTO = Style(
    "photo",
    "{prompt}, photograph, natural light, detailed skin, 50mm",
    "drawing, painting, illustration, cartoon, 3d render, deformed face, extra limbs",
    "a photograph (no style): asks for generate-photoreal",
)

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "illustration",
            "{prompt}, digital illustration, clean lines, flat colours, storybook",
            "photo, photograph, photorealistic, realistic skin, deformed",
            "a clean digital illustration",
        ),
        Style(
            "animation",
            "{prompt}, 3d animated film still, stylized characters, soft lighting",
            "photo, photograph, photorealistic, deformed",
            "a still from an animated film",
        ),
        Style(
            "sketch",
            "{prompt}, pencil sketch, graphite on paper, cross-hatching, monochrome",
            "photo, photograph, colour, photorealistic",
            "a pencil sketch",
        ),
        Style(
            "watercolor",
            "{prompt}, watercolor painting, loose brush strokes, paper texture",
            "photo, photograph, photorealistic, sharp details",
            "a watercolor painting",
        ),
        Style(
            "comic",
            "{prompt}, comic book panel, bold ink outlines, halftone shading",
            "photo, photograph, photorealistic",
            "a comic book panel",
        ),
        Style(
            "oil-painting",
            "{prompt}, oil painting on canvas, visible brush strokes, classical portrait",
            "photo, photograph, photorealistic",
            "an oil painting",
        ),
    )
}


def get_style(name: str | None) -> Style | None:
    """The named style, or None for a photograph."""
    if name is None:
        return None
    try:
        return STYLES[name]
    except KeyError:
        raise StyleError(
            f"unknown style {name!r}; styles: {', '.join(STYLES)}", field="style"
        ) from None
