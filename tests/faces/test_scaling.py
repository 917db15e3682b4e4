"""Smaller copies and crops of a photo made from its exact halvings."""

import cv2
import numpy as np

from likeness.faces.scaling import Halvings, halve, resize_image
from likeness.testing.photos import scenery, textured_scenery


def photo(size=(1001, 757)) -> np.ndarray:
    return np.asarray(textured_scenery(size))


def test_halving_drops_an_odd_edge_and_averages_two_by_two():
    image = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    half = halve(image)
    assert half.shape == (2, 3, 3)
    expected = image[:4, :6].reshape(2, 2, 3, 2, 3).mean(axis=(1, 3))
    assert np.abs(half.astype(float) - expected).max() <= 0.5


def test_a_copy_from_halvings_matches_one_box_filter_of_the_whole_photo():
    image = photo()
    for scale in (0.7, 0.45, 0.3, 0.21, 0.1):
        ours = Halvings(image).resize(scale)
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        direct = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        assert ours.shape == direct.shape
        # Two box filters in a row blur a little more than one (a few grey levels on average,
        # on a photo full of fine texture), but it is the same picture in the same place.
        assert np.abs(ours.astype(float) - direct).mean() < 8, scale
        soft = [cv2.GaussianBlur(x.astype(float), (0, 0), 1.5) for x in (ours, direct)]
        assert np.abs(soft[0] - soft[1]).mean() < 2, scale


def test_upscaling_and_unit_scale():
    image = np.asarray(scenery(0, (200, 150)))
    assert resize_image(image, 1.0) is image
    assert resize_image(image, 2.0).shape == (300, 400, 3)


def test_a_crop_is_cut_where_the_box_is_in_every_level():
    image = np.zeros((3000, 4000, 3), dtype=np.uint8)
    image[1000:1400, 2000:2400] = 255  # a white square 400 px wide
    halvings = Halvings(image)
    for box, size in (((2000, 1000, 2400, 1400), 24), ((2100, 1100, 2300, 1300), 48)):
        crop = halvings.crop(np.array(box, dtype=float), size)
        assert crop.shape == (size, size, 3)
        assert crop[2:-2, 2:-2].min() >= 250, box
    # Shifted by half its width: the left half of the crop is the square, the right half not.
    crop = halvings.crop(np.array((2200.0, 1000, 2600, 1400)), 24)
    assert crop[2:-2, :10].min() >= 250 and crop[2:-2, 14:].max() <= 5
    # A box half outside the photo is padded with zeros, as MTCNN's authors pad.
    crop = halvings.crop(np.array((3800.0, -200, 4200, 200)), 24)
    assert crop[:, 12:].max() == 0 and crop[:12, :].max() == 0
