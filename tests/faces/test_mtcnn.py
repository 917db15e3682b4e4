"""MTCNN proposals: small faces in phone-size photos, found cheaply and confirmed by HOG."""

import importlib.util
from functools import cache

import numpy as np
import pytest
from PIL import Image

from likeness.faces.detection import DetectionSettings
from likeness.faces.dlib_backend import DlibFaceBackend, box_iou
from likeness.faces.mtcnn import MtcnnProposer, MtcnnUnavailableError, nms, weights_dir
from likeness.testing.photos import astronaut, scenery, textured_scenery

PHONE = (4032, 3024)


@cache
def proposer() -> MtcnnProposer:
    return MtcnnProposer()


@cache
def backend(proposals: bool = True) -> DlibFaceBackend:
    return DlibFaceBackend(DetectionSettings(proposals=proposals))


def phone_scene(faces: dict[tuple[int, int], int], seed: int = 7) -> Image.Image:
    """A 12 MP scene with the astronaut's face pasted at each (x, y), about the given width."""
    scene = scenery(seed, PHONE)
    for (x, y), width in faces.items():
        face = astronaut().crop((150, 40, 300, 210))  # her face is ~90 px wide in the original
        scale = width / 90
        face = face.resize((round(face.width * scale), round(face.height * scale)), Image.LANCZOS)
        scene.paste(face, (x, y))
    return scene


def test_proposes_a_45_px_face_in_a_12_megapixel_photo():
    image = np.asarray(phone_scene({(2500, 1800): 45}))
    proposals = proposer().propose(image, 40, 240)
    hits = [b for b, _ in proposals if 2480 < b[0] < 2560 and 1780 < b[1] < 1860]
    assert hits, proposals[:5]
    assert all(30 < b[2] - b[0] < 90 for b in hits)


def test_backend_finds_small_faces_in_a_phone_photo_and_embeds_them_like_large_ones():
    image = np.asarray(phone_scene({(600, 500): 48, (2500, 1800): 70, (3300, 400): 110}))
    faces = backend().analyze(image)
    assert len(faces) == 3, [f.box for f in faces]
    large = backend().analyze(np.asarray(astronaut()))[0]
    for face in faces:
        assert np.linalg.norm(face.embedding - large.embedding) < 0.6, face.box


def test_small_face_beside_a_big_one_is_found_without_thorough():
    """The old heuristic skipped the small-face pass when the first pass found a big face;
    proposals are cheap enough to look every time."""
    scene = phone_scene({(2500, 1800): 46})
    scene.paste(astronaut().crop((100, 0, 400, 330)).resize((900, 990)), (200, 200))
    assert len(backend().analyze(np.asarray(scene))) == 2


def test_large_faces_in_a_phone_photo_are_proposed_and_confirmed_too():
    """No HOG pass over the whole photo looks for large faces any more: MTCNN's smallest
    pyramid levels propose them, and HOG confirms them on a crop like any other."""
    image = np.asarray(phone_scene({(300, 300): 500, (1900, 400): 1200, (3500, 2600): 60}))
    faces = backend().analyze(image)
    widths = sorted(f.box[2] - f.box[0] for f in faces)
    assert len(widths) == 3, [f.box for f in faces]
    for width, pasted in zip(widths, (60, 500, 1200), strict=True):
        assert 0.7 * pasted < width < 1.4 * pasted, widths


def test_a_proposal_is_only_a_face_if_hog_confirms_it():
    """A face blurred past what dlib's detector accepts is still proposed by MTCNN; it must not
    become a stored face (detection policy and threshold stay dlib's)."""
    from PIL import ImageFilter

    blurred = astronaut().filter(ImageFilter.GaussianBlur(5)).crop((100, 0, 400, 300))
    scene = scenery(7, PHONE)
    scene.paste(blurred.resize((200, 200)), (2000, 1500))
    image = np.asarray(scene)
    proposals = proposer().propose(image, 40, 240)
    assert any(1950 < b[0] < 2200 and 1450 < b[1] < 1700 for b, _ in proposals), proposals
    assert backend().analyze(image) == []


def test_no_faces_in_a_textured_12_megapixel_scene():
    assert backend().analyze(np.asarray(textured_scenery(PHONE))) == []


def test_without_the_weights_the_upsampled_hog_pass_still_finds_small_faces(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "facenet_pytorch" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MtcnnUnavailableError, match="pip install --no-deps facenet-pytorch"):
        weights_dir()
    fallback = DlibFaceBackend()
    assert fallback.proposer_problem and "facenet-pytorch" in fallback.proposer_problem
    image = np.asarray(phone_scene({(2500, 1800): 45}).resize((3000, 2250)))
    faces = fallback.analyze(image)
    assert len(faces) == 1


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    keep = nms(boxes, np.array([0.5, 0.9, 0.7]), 0.5)
    assert keep.tolist() == [1, 2]
    assert box_iou(tuple(boxes[0]), tuple(boxes[1])) > 0.5


def test_import_says_when_small_faces_fall_back_to_the_slow_pass(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from likeness.cli import app

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "facenet_pytorch" else real_find_spec(name, *a),
    )
    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "home"))
    (tmp_path / "photos").mkdir()
    result = CliRunner().invoke(app, ["import", str(tmp_path / "photos"), "--json"])
    assert result.exit_code == 0, result.output
    assert "facenet-pytorch" in result.output and "slower upsampled HOG pass" in result.output


def test_the_rewritten_networks_give_the_authors_outputs():
    """P-Net's first layer widened to 16 channels, its last layer split into a face logit and
    offsets read where a face fires, and the input normalisation folded into each network's
    first layer: the same probabilities and offsets as the authors' networks on their
    normalised input."""
    import torch

    from likeness.faces.mtcnn import build_networks

    originals = build_networks()
    for net, file in zip(originals, ("pnet.pt", "rnet.pt", "onet.pt"), strict=True):
        state = torch.load(weights_dir() / file, map_location="cpu", weights_only=True)
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("softmax")})
        net.eval()
    ours = proposer()
    assert ours._pnet.conv1.out_channels == 16

    def normalised(batch):
        return (torch.from_numpy(batch).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125

    image = np.array(textured_scenery((800, 600)))
    with torch.inference_mode():
        offsets, probs = originals[0](normalised(image[None]))
        logit, features = ours._pnet_level(image)
        assert np.allclose(1 / (1 + np.exp(-logit)), probs[0, 1].numpy(), atol=1e-5)
        ys, xs = np.nonzero(np.ones_like(logit, dtype=bool))
        ours_offsets = ours._pnet_offsets(features, ys, xs)
        assert np.allclose(ours_offsets, offsets[0][:, ys, xs].numpy().T, atol=1e-4)
        for net, ours_net, size in ((originals[1], ours._rnet, 24), (originals[2], ours._onet, 48)):
            crops = np.stack([image[y : y + size, x : x + size] for x, y in ((0, 0), (300, 200))])
            (a_offsets, a_probs), (b_offsets, b_probs) = (
                net(normalised(crops)),
                ours_net(ours._tensor(crops)),
            )
            assert torch.allclose(a_probs, b_probs, atol=1e-5)
            assert torch.allclose(a_offsets, b_offsets, atol=1e-4)
