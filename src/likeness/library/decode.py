"""Decode a photo: formats, EXIF orientation, metadata, and a cap against decompression bombs.

EXIF orientation is applied before anything else, so every box and landmark that likeness stores
is in upright pixels, as a person sees the photo.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import Base as ExifBase

from likeness.errors import InvalidError

#: The formats likeness indexes (Pillow format names); anything else is reported, not guessed at.
SUPPORTED_FORMATS = {"JPEG", "PNG", "WEBP", "HEIF", "TIFF", "MPO"}
#: File name extensions likeness looks at when walking folders.
IMAGE_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".jpe",
    ".png",
    ".webp",
    ".heic",
    ".heif",
    ".hif",
    ".tif",
    ".tiff",
}
#: Refuse images above this many pixels before decoding them (a decompression bomb is a tiny
#: file that decodes to gigabytes). 200 MP is above any camera likeness expects.
MAX_PIXELS = 200_000_000

_heif_registered = False


class DecodeError(InvalidError):
    """A photo that cannot be indexed; the message says why, for the import report."""


@dataclass
class DecodedPhoto:
    pixels: np.ndarray  # upright RGB uint8, (H, W, 3)
    format: str
    taken_at: datetime | None
    gps: tuple[float, float] | None
    camera_make: str | None
    camera_model: str | None


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


def _exif_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _gps_decimal(values: object, ref: object) -> float | None:
    try:
        d, m, s = (float(v) for v in values)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode(errors="ignore")
    return -result if str(ref).upper().startswith(("S", "W")) else result


#: The width of a camera's make and model, as EXIF text is cleaned and as the catalog's
#: ``photos.camera_make`` and ``camera_model`` columns are declared (``library.tables``).
CAMERA_TEXT_MAX = 128


def _clean(text: object) -> str | None:
    """An EXIF text as the catalog keeps it: up to its first NUL (EXIF texts are C strings,
    and a file may carry bytes after the terminator), without control characters, and cut
    to the column's width (a crafted file's 10 KB "make" must not fail its import)."""
    if not isinstance(text, str):
        return None
    text = text.split("\x00", 1)[0]
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:CAMERA_TEXT_MAX] or None


def read_exif(
    image: Image.Image,
) -> tuple[datetime | None, tuple[float, float] | None, str | None, str | None]:
    """Capture time, GPS (lat, lon) and camera make/model from EXIF; each may be missing."""
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block must not lose the photo itself
        return None, None, None, None
    from PIL.ExifTags import GPS, IFD, Base

    try:
        sub = exif.get_ifd(IFD.Exif)
    except Exception:
        sub = {}
    taken = _exif_datetime(sub.get(Base.DateTimeOriginal)) or _exif_datetime(
        exif.get(Base.DateTime)
    )
    gps = None
    try:
        g = exif.get_ifd(IFD.GPSInfo)
    except Exception:
        g = {}
    if g:
        lat = _gps_decimal(g.get(GPS.GPSLatitude), g.get(GPS.GPSLatitudeRef))
        lon = _gps_decimal(g.get(GPS.GPSLongitude), g.get(GPS.GPSLongitudeRef))
        if (
            lat is not None
            and lon is not None
            and (lat, lon) != (0.0, 0.0)
            and -90 <= lat <= 90
            and -180 <= lon <= 180
        ):
            gps = (lat, lon)
    return taken, gps, _clean(exif.get(Base.Make)), _clean(exif.get(Base.Model))


def decode_photo(data: bytes, max_pixels: int = MAX_PIXELS) -> DecodedPhoto:
    """Decode image bytes into upright RGB pixels plus metadata, or raise DecodeError."""
    if not data:
        raise DecodeError("empty file (0 bytes)")
    _register_heif()
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DecodeError("not a recognised image format") from None
    except Exception as exc:
        raise DecodeError(f"corrupt or truncated image (cannot open: {exc})") from None
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise DecodeError(f"unsupported image format {fmt}")
    w, h = image.size
    if w * h > max_pixels:
        raise DecodeError(
            f"image is {w}x{h} = {w * h / 1e6:.0f} MP, over the {max_pixels / 1e6:.0f} MP cap "
            "(possible decompression bomb)"
        )
    taken, gps, make, model = read_exif(image)
    pixels = decoded_into_array(data, image)
    if pixels is None:
        pixels = _pillow_pixels(image)
    if pixels.ndim != 3 or min(pixels.shape[:2]) < 1:
        raise DecodeError("image has no pixels")
    pixels = _upright(pixels, _orientation(image))
    return DecodedPhoto(pixels, fmt, taken, gps, make, model)


def _pillow_pixels(image: Image.Image) -> np.ndarray:
    """The pixels as stored, in RGB, decoded by Pillow: transparent ones over white."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            ):
                # Composite transparent pixels over white, as viewers show them.
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = image if image.mode == "RGB" else image.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"corrupt or truncated image data: {exc}") from None
    return np.asarray(rgb)


#: Older OpenCV releases cannot decode straight to RGB: JPEGs then take Pillow's path.
_IMREAD_RGB_AS_STORED = (
    cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    if hasattr(cv2, "IMREAD_COLOR_RGB")
    else None
)


def decoded_into_array(data: bytes, image: Image.Image) -> np.ndarray | None:
    """The RGB pixels (as stored, before EXIF orientation) of a colour JPEG or HEIF photo,
    decoded straight into an array; None for any other photo, or one these decoders cannot
    decode (a truncated file: Pillow's path then says what is wrong with it).

    Why: Pillow keeps an image in its own memory, and a numpy array of it is one more copy.
    In an import worker this saves 11 ms of a 12 MP JPEG's 0.168 s (a small face; 8 ms of
    a sideways one's 0.19 s) and 21 ms of a HEIC's. The pixels are identical: OpenCV
    decodes JPEG with the same libjpeg-turbo as Pillow, and pillow-heif's own array is what
    its Pillow plugin copies. Greyscale, CMYK and transparent photos keep Pillow's path,
    which converts them as viewers do. One difference: OpenCV's libjpeg prints its warnings
    ("Corrupt JPEG data") to stderr, where Pillow's is silent; both decode such a photo."""
    if image.mode != "RGB":
        return None
    if image.format in ("JPEG", "MPO") and _IMREAD_RGB_AS_STORED is not None:
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), _IMREAD_RGB_AS_STORED)
    elif image.format == "HEIF":
        from pillow_heif import open_heif

        try:
            # Stored turned (HEIF's irot and imir) as the Pillow plugin's pixels are: libheif
            # applies those, and the plugin reports EXIF orientation 1.
            pixels = np.asarray(open_heif(io.BytesIO(data), convert_hdr_to_8bit=True))
        except (OSError, ValueError, RuntimeError):
            return None
    else:
        return None
    if pixels is None or pixels.shape != (image.height, image.width, 3):
        return None
    return pixels


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) that ``ImageOps.exif_transpose`` would apply; 1 if none."""
    try:
        value = image.getexif().get(ExifBase.Orientation, 1)
    except Exception:  # a broken EXIF block: shown as stored, as viewers do
        return 1
    return value if isinstance(value, int) and value in _UPRIGHT else 1


#: What turns stored pixels upright, per EXIF orientation, in OpenCV (Pillow's
#: ``exif_transpose`` table): OpenCV turns a 12 MP photo a quarter turn in 9 ms of CPU where
#: Pillow takes 35, and phones store most portrait photos turned.
_UPRIGHT: dict[int, tuple[Callable[[np.ndarray], np.ndarray], ...]] = {
    1: (),
    2: (lambda p: cv2.flip(p, 1),),
    3: (lambda p: cv2.rotate(p, cv2.ROTATE_180),),
    4: (lambda p: cv2.flip(p, 0),),
    5: (cv2.transpose,),
    6: (lambda p: cv2.rotate(p, cv2.ROTATE_90_CLOCKWISE),),
    7: (cv2.transpose, lambda p: cv2.flip(p, -1)),
    8: (lambda p: cv2.rotate(p, cv2.ROTATE_90_COUNTERCLOCKWISE),),
}


def _upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``pixels`` as stored, turned upright for their EXIF ``orientation``."""
    for step in _UPRIGHT[orientation]:
        pixels = step(pixels)
    return pixels
