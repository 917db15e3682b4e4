import io
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from likeness.library.decode import DecodeError, decode_photo, decoded_into_array
from likeness.testing.photos import astronaut, jpeg_bytes, scenery


def _exif(orientation: int | None = None, gps: bool = False) -> Image.Exif:
    from PIL.ExifTags import GPS, IFD, Base

    exif = Image.Exif()
    if orientation:
        exif[Base.Orientation] = orientation
    exif[Base.Make] = "Acme"
    exif[Base.Model] = "Snap 9\x00"
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = "2021:07:04 15:30:00"
    if gps:
        exif.get_ifd(IFD.GPSInfo).update(
            {
                GPS.GPSLatitudeRef: "S",
                GPS.GPSLatitude: (33.0, 52.0, 4.0),
                GPS.GPSLongitudeRef: "E",
                GPS.GPSLongitude: (151.0, 12.0, 36.0),
            }
        )
    return exif


def test_exif_orientation_is_applied_before_anything_else():
    # Pixels stored 300 wide x 200 high, orientation 6: viewers rotate them to 200 x 300.
    stored = Image.new("RGB", (300, 200), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 0, 30, 200))  # a blue band on the stored left edge
    photo = decode_photo(jpeg_bytes(stored, _exif(orientation=6)))
    assert photo.pixels.shape == (300, 200, 3)
    top = photo.pixels[:20].reshape(-1, 3).mean(axis=0)  # rotated 90 CW: left edge -> top
    assert top[2] > 150 and top[0] < 100


@pytest.mark.parametrize("orientation", range(1, 10))  # 9 is no orientation: shown as stored
def test_every_exif_orientation_turns_the_pixels_as_pillow_does(orientation):
    """Decoding turns pixels with OpenCV (faster on 12 MP photos): each of the 8 EXIF
    orientations must give exactly Pillow's ``exif_transpose``, on an odd-sized photo."""
    from PIL import ImageOps

    stored = astronaut().resize((61, 40))
    data = jpeg_bytes(stored, _exif(orientation=orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGB")))
    pixels = decode_photo(data).pixels
    assert pixels.shape == expected.shape and pixels.flags.c_contiguous
    assert np.array_equal(pixels, expected)


@pytest.mark.parametrize("kind", ["RGB", "L", "CMYK", "MPO", "HEIF", "HEIF turned", "HEIF tiled"])
def test_every_kind_of_photo_gives_pillows_pixels(kind):
    """Colour JPEGs (and a multi-picture one's first picture) are decoded by OpenCV, HEIF by
    pillow-heif, straight into an array; greyscale and CMYK JPEGs by Pillow. All must give
    exactly Pillow's upright RGB pixels. "HEIF tiled" is stored as a grid of tiles, as phones
    write HEIC (512 px tiles; here 64 px, with partial tiles at the right and bottom)."""
    from PIL import ImageOps
    from pillow_heif import register_heif_opener

    register_heif_opener()
    size = (300, 200) if kind == "HEIF tiled" else (61, 40)
    stored = astronaut().resize(size)
    buf = io.BytesIO()
    if kind == "MPO":
        stored.save(buf, "MPO", save_all=True, append_images=[stored.rotate(90)])
    elif kind == "HEIF tiled":
        stored.save(buf, "HEIF", tile_size=64)
        assert Image.open(io.BytesIO(buf.getvalue())).info["tiling"]["num_columns"] == 5
    elif kind.startswith("HEIF"):
        stored.save(buf, "HEIF", exif=_exif(orientation=6 if "turned" in kind else None).tobytes())
    else:
        stored.convert(kind).save(buf, "JPEG")
    opened = Image.open(io.BytesIO(buf.getvalue()))
    expected = np.asarray(ImageOps.exif_transpose(opened.convert("RGB")))
    photo = decode_photo(buf.getvalue())
    assert photo.format == (
        "HEIF" if kind.startswith("HEIF") else kind if kind == "MPO" else "JPEG"
    )
    upright = size[::-1] if "turned" in kind else size
    assert photo.pixels.shape == expected.shape == (upright[1], upright[0], 3)
    assert np.array_equal(photo.pixels, expected)
    into_array = decoded_into_array(buf.getvalue(), Image.open(io.BytesIO(buf.getvalue())))
    assert (into_array is None) == (kind in ("L", "CMYK"))  # the fast path was taken


def test_exif_metadata():
    photo = decode_photo(jpeg_bytes(scenery(), _exif(gps=True)))
    assert photo.taken_at == datetime(2021, 7, 4, 15, 30)
    assert photo.camera_make == "Acme" and photo.camera_model == "Snap 9"
    lat, lon = photo.gps
    assert lat == pytest.approx(-(33 + 52 / 60 + 4 / 3600))
    assert lon == pytest.approx(151 + 12 / 60 + 36 / 3600)


def test_crafted_exif_texts_are_kept_as_the_catalog_can_store_them():
    """Bytes after an EXIF text's NUL, control characters and a 10 KB make: a catalog on
    PostgreSQL refuses NUL and over-long text, so the photo would fail to import."""
    from PIL.ExifTags import Base

    exif = Image.Exif()
    exif[Base.Make] = "Acme\x00\x01hidden"
    exif[Base.Model] = "Snap\x1b[31m 9" + "x" * 10_000
    photo = decode_photo(jpeg_bytes(scenery(), exif))
    assert photo.camera_make == "Acme"
    assert photo.camera_model.startswith("Snap[31m 9x") and len(photo.camera_model) == 128


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "HEIF"])
def test_formats(fmt):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buf = io.BytesIO()
    astronaut().resize((128, 128)).save(buf, fmt)
    photo = decode_photo(buf.getvalue())
    assert photo.pixels.shape == (128, 128, 3)
    assert photo.format == fmt


def test_transparent_png_is_composited_on_white():
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    assert np.all(decode_photo(buf.getvalue()).pixels == 255)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"this is not an image at all", "not a recognised image format"),
        (jpeg_bytes(scenery())[:400], "corrupt or truncated"),
        (jpeg_bytes(astronaut())[:20_000], "corrupt or truncated image data"),
        (b"GIF89a" + b"\x00" * 50, "corrupt|unsupported|not a recognised"),
    ],
)
def test_bad_images_raise_with_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_photo(data)


def test_decompression_bomb_is_refused_before_decoding():
    buf = io.BytesIO()
    Image.new("L", (20_000, 12_000)).save(buf, "PNG")  # 240 MP of zeros compress to ~kB
    assert len(buf.getvalue()) < 1_000_000
    with pytest.raises(DecodeError, match="decompression bomb"):
        decode_photo(buf.getvalue())
