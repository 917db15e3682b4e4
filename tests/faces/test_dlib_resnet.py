"""dlib's face ResNet run by PyTorch gives dlib's own embeddings."""

import dlib
import face_recognition_models as models
import numpy as np
import pytest

from likeness.faces.dlib_backend import DlibFaceBackend
from likeness.faces.dlib_resnet import DlibModelFormatError, DlibResNet, read_dlib_resnet
from likeness.testing.photos import astronaut


def _chips(images) -> np.ndarray:
    backend = DlibFaceBackend(embed_with_torch=False)
    chips = []
    for image in images:
        for box, _ in backend.detect(image):
            shape = backend._landmarks(image, dlib.rectangle(*(round(v) for v in box)))
            chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)))
    return np.stack(chips)


def test_torch_embeddings_equal_dlib_embeddings_on_real_faces(faces_dev):
    from PIL import Image

    paths = [*sorted((faces_dev / "people").glob("*/1.*"))[:6], faces_dev / "groups/multiface.jpg"]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    images.append(np.asarray(astronaut()))
    chips = _chips(images)
    assert len(chips) >= 10
    dlib_net = dlib.face_recognition_model_v1(models.face_recognition_model_location())
    expected = np.asarray(dlib_net.compute_face_descriptor(list(chips)), dtype=np.float32)
    got = DlibResNet(models.face_recognition_model_location())(chips)
    assert got.shape == (len(chips), 128)
    assert np.abs(got - expected).max() < 1e-4


def test_reader_sees_dlib_anet_layout():
    net = read_dlib_resnet(models.face_recognition_model_location())
    kinds = [op.kind for op in net.ops]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    assert net.size == 150 and net.mean == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)


def test_reader_refuses_other_files(tmp_path):
    bogus = tmp_path / "x.dat"
    bogus.write_bytes(b"\x01\x01\x01\x05hello")
    with pytest.raises(DlibModelFormatError):
        read_dlib_resnet(bogus)
    with pytest.raises(DlibModelFormatError):
        read_dlib_resnet(models.pose_predictor_five_point_model_location())


def test_the_embedding_network_leaves_the_process_torch_threads_alone():
    """Loading and running it in the server or the CLI must not change how many threads the
    rest of the process (a diffusion pipeline) gets: set to 1 there, it halved generation
    speed on two cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        net = DlibResNet(models.face_recognition_model_location())
        net(np.zeros((1, 150, 150, 3), np.uint8))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
