"""MTCNN (Zhang et al. 2016) in PyTorch, as a cheap proposer of small faces in large photos.

Why it is here: dlib's HOG detector looks through an 80 px window, so finding a 40 px face in a
12 MP phone photo means scanning the photo upsampled to 48 MP, about 2.6 s a photo on one core.
MTCNN's first network (P-Net) looks through a 12 px window: the same 40 px face is found in the
photo scaled *down* to 0.75 MP (``FIRST_LEVEL_REACH``); R-Net (24 px) and O-Net (48 px) then
look at each candidate and throw most false ones away. All three cost about 0.09 s of CPU on a
textured 12 MP photo in an import worker (P-Net over the pyramid about 0.06 s, R-Net on a few
hundred candidates and O-Net the rest; see ``likeness.heap``, ``faces.scaling`` and the
constants below for what made it several times cheaper). The dlib
backend then checks each candidate with its own HOG detector on a small crop, so what is stored
is still a dlib face (box, 5 points, embedding) under dlib's own threshold: MTCNN only decides
where to look closely.

The weights are facenet-pytorch's (``pnet.pt``, ``rnet.pt``, ``onet.pt``; MIT licence, ported
from David Sandberg's facenet, from the original authors' Caffe models). The package is
installed without its dependencies (it pins torch < 2.3 and torchvision, which the detector
does not need), and its files are found without importing it. The networks are written here,
not imported: the package's ``__init__`` needs torchvision.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from likeness.errors import UnavailableError
from likeness.faces.scaling import Halvings

#: P-Net's window, and its output stride in input pixels.
PNET_WINDOW = 12
PNET_STRIDE = 2
#: Pyramid step between P-Net scales. The authors' 0.709 runs P-Net over 2.0 times the first
#: level's pixels; 0.65 over 1.7 times, and still proposes every one of 225 faces-dev faces
#: pasted at 40-140 px (widths between levels included), blurred, dim or compressed; 0.6
#: loses one at 86 px (benchmarks/proposal_recall.py --factors 0.709 0.65 0.6).
PYRAMID_FACTOR = 0.65
#: The first (largest, costliest) pyramid level maps faces this many times ``min_face_px``
#: wide onto P-Net's 12 px window: the smallest faces wanted reach it at 10 px, which P-Net
#: still fires on at a lower threshold. Every level is then 1.44 times smaller than with the
#: window fitted to them (benchmarks/proposal_recall.py --reach 1.0 1.2 --thresholds 0.9 0.8).
FIRST_LEVEL_REACH = 1.2
#: Face probabilities a candidate must reach at each stage. A face dropped here is lost for
#: good, while a false candidate costs one small HOG check, so R-Net and O-Net keep more than
#: the authors' 0.7/0.7. P-Net keeps more than their 0.6: on textured ground (grass, gravel) it
#: fires thousands of times a photo, and R-Net's crops then cost more than P-Net itself. Over
#: the 225 faces-dev faces pasted at 40-140 px, blurred, dim or compressed, into textured
#: scenes (three draws, seeds 0-2 of benchmarks/proposal_recall.py), with the first level's
#: reach at 1.2 and P-Net at 0.8, 674 of 675 are proposed, as with a reach of 1.0 and 0.9,
#: and P-Net with R-Net take 0.08-0.09 s on a textured 12 MP scene instead of 0.10-0.12 (a
#: reach of 1.35 loses 4 of 225 at 0.85, 1 at 0.8).
PNET_THRESHOLD = 0.8
RNET_THRESHOLD = 0.6
ONET_THRESHOLD = 0.3


class MtcnnUnavailableError(UnavailableError):
    """The MTCNN weights are not installed."""


def weights_dir() -> Path:
    """The folder of facenet-pytorch's MTCNN weights, found without importing the package."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise MtcnnUnavailableError(
            "facenet-pytorch is not installed (its MTCNN weights find small faces fast): "
            "pip install --no-deps facenet-pytorch==2.6.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    missing = [f for f in ("pnet.pt", "rnet.pt", "onet.pt") if not (folder / f).is_file()]
    if missing:
        raise MtcnnUnavailableError(f"facenet-pytorch is installed but {folder} lacks {missing}")
    return folder


def unavailable_reason() -> str | None:
    """Why MTCNN cannot propose faces here (None when its weights are installed)."""
    try:
        weights_dir()
    except MtcnnUnavailableError as exc:
        return str(exc)
    return None


def build_networks():
    """P-Net, R-Net and O-Net as untrained PyTorch modules, in the layout of facenet-pytorch's
    weight files."""
    import torch
    from torch import nn

    class PNet(nn.Module):
        """Fully convolutional: a face probability and a box offset every 2 px."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
            self.prelu1 = nn.PReLU(10)
            self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
            self.prelu2 = nn.PReLU(16)
            self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
            self.prelu3 = nn.PReLU(32)
            self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
            self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

        def features(self, x: torch.Tensor) -> torch.Tensor:
            """The last layer's input: 32 features every 2 px."""
            x = self.prelu1(self.conv1(x))
            x = self.pool1(x)
            x = self.prelu2(self.conv2(x))
            return self.prelu3(self.conv3(x))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.features(x)
            return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)

    class RNet(nn.Module):
        """Scores a 24x24 candidate and refines its box."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
            self.prelu1 = nn.PReLU(28)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
            self.prelu2 = nn.PReLU(48)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
            self.prelu3 = nn.PReLU(64)
            self.dense4 = nn.Linear(576, 128)
            self.prelu4 = nn.PReLU(128)
            self.dense5_1 = nn.Linear(128, 2)
            self.dense5_2 = nn.Linear(128, 4)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.prelu3(self.conv3(x))
            # The ported Caffe weights flatten in (W, H, C) order.
            x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
            x = self.prelu4(self.dense4(x))
            return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)

    class ONet(nn.Module):
        """Scores a 48x48 candidate and refines its box (its 5 landmarks are not used)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
            self.prelu1 = nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
            self.prelu2 = nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
            self.prelu3 = nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
            self.prelu4 = nn.PReLU(128)
            self.dense5 = nn.Linear(1152, 256)
            self.prelu5 = nn.PReLU(256)
            self.dense6_1 = nn.Linear(256, 2)
            self.dense6_2 = nn.Linear(256, 4)
            self.dense6_3 = nn.Linear(256, 10)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
            x = self.prelu5(self.dense5(x))
            return self.dense6_2(x), torch.softmax(self.dense6_1(x), dim=1)

    return PNet(), RNet(), ONet()


def _fold_normalisation(conv) -> None:
    """Make ``conv`` take pixel values (0-255) where it took them normalised as the authors
    did, ``(x - 127.5) / 128``: the scale goes into its weights and the shift into its bias
    (exact, as none of the first layers pads). Normalising the largest pyramid level costs two
    passes over it; this costs nothing per photo."""
    import torch

    with torch.no_grad():
        shift = conv.weight.sum(dim=(1, 2, 3)) * (127.5 / 128)
        conv.weight /= 128
        conv.bias -= shift


def _p_net_heads(pnet):
    """P-Net's last layer split for the work it does on a whole pyramid level: the face
    logit (face minus non-face score, one 1x1 channel: its sigmoid is the softmax's face
    probability) over every position, and the box offsets as a matrix for the few positions
    where a face fires. The full layer wrote 6 channels and a softmax over the largest level."""
    import torch
    from torch import nn

    face = nn.Conv2d(pnet.conv4_1.in_channels, 1, kernel_size=1)
    with torch.no_grad():
        face.weight.copy_(pnet.conv4_1.weight[1:2] - pnet.conv4_1.weight[0:1])
        face.bias.copy_(pnet.conv4_1.bias[1:2] - pnet.conv4_1.bias[0:1])
    box_weight = pnet.conv4_2.weight.detach()[:, :, 0, 0].T.clone()  # (32, 4)
    return face.eval(), box_weight, pnet.conv4_2.bias.detach().clone()


def _widen_first_layer(pnet, channels: int) -> None:
    """Give P-Net's first layer ``channels`` outputs instead of 10, the extra ones all zero
    (zero weights, bias and PReLU slope in, zero weights into the next layer), which changes
    no output. Why: the first layer's feature map is the largest of the whole detector (10
    channels over the largest pyramid level), and channels-last kernels vectorise 16 floats at a
    time; at 10 channels its PReLU and max-pool cost more than the convolutions (P-Net's first
    level: 0.052 s of CPU at 10 channels, 0.041 s at 16)."""
    import torch
    from torch import nn

    def widened(old: nn.Conv2d, out_channels: int, in_channels: int) -> nn.Conv2d:
        new = nn.Conv2d(in_channels, out_channels, kernel_size=old.kernel_size)
        with torch.no_grad():
            new.weight.zero_()
            new.bias.zero_()
            new.weight[: old.out_channels, : old.in_channels] = old.weight
            new.bias[: old.out_channels] = old.bias
        return new

    prelu = nn.PReLU(channels)
    with torch.no_grad():
        prelu.weight.zero_()
        prelu.weight[: pnet.prelu1.num_parameters] = pnet.prelu1.weight
    pnet.conv1 = widened(pnet.conv1, channels, pnet.conv1.in_channels)
    pnet.prelu1 = prelu
    pnet.conv2 = widened(pnet.conv2, pnet.conv2.out_channels, channels)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression at IoU ``threshold``, best first
    (OpenCV's: P-Net leaves thousands of boxes on a textured photo, too many for a Python
    loop)."""
    import cv2

    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1
    )
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(float).tolist(), 0.0, threshold)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes grown to squares about their centres (MTCNN's ``rerec``)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) / 2
    out[:, 1] = boxes[:, 1] + (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _refine(boxes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply the networks' box regression (offsets in box widths/heights)."""
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    return boxes + offsets * np.concatenate([w, h, w, h], axis=1)


class MtcnnProposer:
    """Candidate face boxes from MTCNN's three stages. Load once per process; not thread-safe."""

    name = "mtcnn-facenet-pytorch"

    def __init__(self, folder: Path | None = None) -> None:
        import torch

        folder = folder or weights_dir()
        self._torch = torch
        self._pnet, self._rnet, self._onet = build_networks()
        nets = ((self._pnet, "pnet.pt"), (self._rnet, "rnet.pt"), (self._onet, "onet.pt"))
        for net, file in nets:
            state = torch.load(folder / file, map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith("softmax")}
            net.load_state_dict(state)
        _widen_first_layer(self._pnet, 16)
        for net, _ in nets:
            _fold_normalisation(net.conv1)
            # channels-last convolutions run about 1.7x faster on CPU for these thin layers.
            net.eval().to(memory_format=torch.channels_last)
        self._pnet_face, self._pnet_box_weight, self._pnet_box_bias = _p_net_heads(self._pnet)
        self._pnet_face.to(memory_format=torch.channels_last)

    def propose(
        self,
        image: np.ndarray,
        min_face_px: float,
        max_face_px: float,
    ) -> list[tuple[tuple[float, ...], float]]:
        """Boxes (x0, y0, x1, y1, image pixels) of likely faces ``min_face_px`` to
        ``max_face_px`` wide, with O-Net's face probability, most likely first. The pyramid
        and the crops are cut from the photo's halvings (``faces.scaling``)."""
        halvings = Halvings(image)
        with self._torch.inference_mode():
            boxes = self._pyramid_candidates(halvings, min_face_px, max_face_px)
            boxes = self._stage(self._rnet, halvings, boxes, 24, RNET_THRESHOLD)
            boxes = self._stage(self._onet, halvings, boxes, 48, ONET_THRESHOLD)
        boxes = boxes[np.argsort(-boxes[:, 4], kind="stable")]
        sides = boxes[:, 2] - boxes[:, 0]
        ok = (sides >= min_face_px * 0.7) & (sides <= max_face_px * 1.4)
        return [
            ((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(b[4])) for b in boxes[ok]
        ]

    def _pyramid_candidates(
        self, halvings: Halvings, min_face_px: float, max_face_px: float
    ) -> np.ndarray:
        """P-Net over the scales that map faces of the wanted sizes onto its 12 px window:
        rows of (x0, y0, x1, y1, score), squared."""
        w, h = halvings.size
        scale = PNET_WINDOW / (min_face_px * FIRST_LEVEL_REACH)
        found = [np.zeros((0, 5))]
        least = math.log(PNET_THRESHOLD / (1 - PNET_THRESHOLD))  # the threshold as a logit
        while scale >= PNET_WINDOW / max_face_px * PYRAMID_FACTOR:
            size = (int(w * scale + 1), int(h * scale + 1))
            if min(size) < PNET_WINDOW:
                break
            # Bilinear from the nearest halving: 0.02 s a 12 MP photo cheaper than the area
            # filter, and as good for P-Net (benchmarks/proposal_recall.py: recall 1.000 at
            # 0.9 either way, 0.984 against 0.968 at 0.95).
            level = halvings.resize(size[0] / w, smooth=False)
            size = level.shape[1::-1]
            logit, features = self._pnet_level(level)
            ys, xs = np.nonzero(logit >= least)
            scale *= PYRAMID_FACTOR
            if not len(ys):
                continue
            sx, sy = w / size[0], h / size[1]
            x0, y0 = PNET_STRIDE * xs * sx, PNET_STRIDE * ys * sy
            boxes = np.stack([x0, y0, x0 + PNET_WINDOW * sx, y0 + PNET_WINDOW * sy], axis=1)
            score = 1 / (1 + np.exp(-logit[ys, xs].astype(np.float64)))
            keep = nms(boxes, score, 0.5)
            refined = _refine(boxes[keep], self._pnet_offsets(features, ys[keep], xs[keep]))
            found.append(np.concatenate([refined, score[keep, None]], axis=1))
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        boxes[:, :4] = _square(boxes[:, :4])
        return boxes

    def _stage(
        self, net, halvings: Halvings, boxes: np.ndarray, size: int, threshold: float
    ) -> np.ndarray:
        """One refinement stage: crops of ``boxes`` at ``size`` px, scored and re-boxed by
        ``net``; the ones above ``threshold`` survive, squared, after non-maximum suppression."""
        if not len(boxes):
            return boxes
        crops = np.stack([halvings.crop(b[:4], size) for b in boxes])
        offsets, probs = net(self._tensor(crops))
        score, offsets = probs[:, 1].numpy(), offsets.numpy()
        ok = score >= threshold
        boxes, score, offsets = boxes[ok, :4], score[ok], offsets[ok]
        keep = nms(boxes, score, 0.7)
        refined = _square(_refine(boxes[keep], offsets[keep]))
        return np.concatenate([refined, score[keep, None]], axis=1)

    def _pnet_level(self, level: np.ndarray):
        """P-Net over one pyramid level: the face logit every 2 px (H', W') and the features
        its box offsets are read from where a face fires (``_pnet_offsets``)."""
        features = self._pnet.features(self._tensor(level[None]))
        return self._pnet_face(features)[0, 0].numpy(), features

    def _pnet_offsets(self, features, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """P-Net's box offsets (n, 4) at positions ``ys``, ``xs`` of ``_pnet_level``."""
        at = features[0][:, self._torch.from_numpy(ys), self._torch.from_numpy(xs)].T
        return (at @ self._pnet_box_weight + self._pnet_box_bias).numpy()

    def _tensor(self, batch: np.ndarray):
        """uint8 images (N, H, W, 3) as the networks' channels-last input: pixel values as
        floats (each network's first layer normalises them, ``_fold_normalisation``)."""
        batch = np.ascontiguousarray(batch)
        if not batch.flags.writeable:  # torch wants to own writable memory, even to read it
            batch = batch.copy()
        return self._torch.from_numpy(batch).permute(0, 3, 1, 2).float()
