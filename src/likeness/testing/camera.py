"""What a real camera does to a rendered clip: sensor noise, then compression.

Rendered clips are clean: every frame of a still head is the same array, and textures are as
sharp as the photo. A phone or webcam adds fresh noise to every frame and compresses the
stream (MJPEG frame by frame, or H.264 across frames, which smooths fine texture and moves
it between key frames). Tracking noise is what the depth checks must rise above, so the
benchmarks measure honest heads and attacks through the same camera.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

Frames = Iterable[tuple[float, np.ndarray]]


@dataclass(frozen=True)
class Camera:
    """``noise``: the standard deviation of Gaussian sensor noise (grey levels of 255), drawn
    afresh for every frame; ``jpeg``: every frame compressed at this JPEG quality (a webcam's
    MJPEG); ``h264_crf``: the clip encoded with H.264 (libx264) at this constant rate factor
    (23 is x264's default, 28 a phone's smaller recording)."""

    noise: float = 0.0
    jpeg: int | None = None
    h264_crf: int | None = None
    seed: int = 0

    def __str__(self) -> str:
        parts = []
        if self.noise:
            parts.append(f"noise {self.noise:g}")
        if self.jpeg is not None:
            parts.append(f"JPEG {self.jpeg}")
        if self.h264_crf is not None:
            parts.append(f"H.264 CRF {self.h264_crf}")
        return ", ".join(parts) or "clean"

    def shoot(self, frames: Frames) -> Iterator[tuple[float, np.ndarray]]:
        """The frames as this camera records them (each made as it is read)."""
        frames = list(frames)
        images = self._sensor(frames)
        if self.jpeg is not None:
            images = (_jpeg(image, self.jpeg) for image in images)
        if self.h264_crf is not None:
            images = h264_round_trip(images, self.h264_crf, _fps(frames))
        return zip((t for t, _ in frames), images, strict=True)

    def live(self) -> Callable[[np.ndarray], np.ndarray]:
        """This camera frame by frame, as a live enrolment page sends what it sees: each
        call takes the next frame, with fresh noise, then JPEG (the page's own compression
        is quality 90). H.264 codes a frame against the ones before and after it, so a
        camera with it cannot be read a frame at a time (ValueError)."""
        if self.h264_crf is not None:
            raise ValueError(f"{self} codes across frames: a live session reads each frame alone")
        rng = np.random.default_rng(self.seed)

        def frame(image: np.ndarray) -> np.ndarray:
            image = self._noisy(image, rng)
            return image if self.jpeg is None else _jpeg(image, self.jpeg)

        return frame

    def _sensor(self, frames: Frames) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        for _, image in frames:
            yield self._noisy(image, rng)

    def _noisy(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``image`` with this sensor's noise, drawn afresh from ``rng``."""
        if not self.noise:
            return image
        noise = rng.normal(0.0, self.noise, image.shape).astype(np.float32)
        return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def _fps(frames: list[tuple[float, np.ndarray]]) -> int:
    return round(1 / (frames[1][0] - frames[0][0])) if len(frames) > 1 else 1


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def h264_round_trip(images: Iterable[np.ndarray], crf: int, fps: int) -> Iterator[np.ndarray]:
    """``images`` encoded as one H.264 stream (yuv420p, libx264 at ``crf``) and decoded back:
    the loss a recorded clip carries. Odd frame sizes are cropped to even ones for the
    encoder and padded back (edge repeated), so the frames keep their size."""
    import av

    buffer = io.BytesIO()
    shape: tuple[int, ...] | None = None
    with av.open(buffer, "w", format="mp4") as out:
        stream = None
        for image in images:
            if stream is None:
                shape = image.shape
                # One thread: libx264's frame threads share rate control, and the same
                # frames came back different from run to run (0 to 45 levels).
                stream = out.add_stream(
                    "libx264", rate=fps, options={"crf": str(crf), "threads": "1"}
                )
                stream.width, stream.height = image.shape[1] // 2 * 2, image.shape[0] // 2 * 2
                stream.pix_fmt = "yuv420p"
            even = np.ascontiguousarray(image[: stream.height, : stream.width])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(even, format="rgb24")))
        if stream is not None:
            out.mux(stream.encode())
    if shape is None:
        return
    buffer.seek(0)
    with av.open(buffer, "r") as clip:
        clip.streams.video[0].codec_context.thread_count = 1
        for frame in clip.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            pad_y, pad_x = shape[0] - image.shape[0], shape[1] - image.shape[1]
            if pad_y or pad_x:
                image = np.pad(image, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
            yield image
