"""How hard a face backend looks: the smallest face wanted, and the detector's tunables.

``min_face_px`` and ``thorough`` mean the same for any backend; the other fields tune the dlib
backend's passes (``faces.dlib_backend`` says why each is shaped as it is). A backend reads
what applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetectionSettings:
    min_face_px: float = 40.0
    #: First pass, where MTCNN does not propose: photos above this many pixels are downscaled
    #: to it (1.5 MP: a 12 MP photo's faces from about 230 px, so that the upsampled pass is
    #: needed less often).
    first_pass_pixels: float = 1.5e6
    #: Second pass: upsampled image never exceeds this many pixels.
    second_pass_pixels: float = 50e6
    #: Photos at most this big always get the second pass (it costs little there).
    small_photo_pixels: float = 0.2e6
    #: A first-pass face narrower than this multiple of its size limit triggers the second pass.
    crowd_factor: float = 1.5
    #: HOG decision threshold (dlib default 0). 0.3 drops the weakest hits, which on the demo
    #: and dev photos are all non-faces (badges, patterns), and keeps every real face there.
    hog_threshold: float = 0.3
    #: Find faces below the first pass's limit with MTCNN proposals checked by HOG (cheap, so
    #: always run on photos above ``small_photo_pixels``) instead of the upsampled HOG pass.
    proposals: bool = True
    thorough: bool = False
    #: Landmarks are read on the face's crop enlarged this many times, for positions finer
    #: than a pixel: dlib's shape predictor returns whole pixels, and one pixel of the nose
    #: point moves a 180 px face's head pose by about 3 degrees of yaw, so a face standing
    #: still read as turned 0 to 10 degrees from frame to frame (a bearded head through
    #: camera noise: honest liveness sessions refused, ``benchmarks/liveness.py --head
    #: canonical+beard``). 4 reads it within about 2 degrees. 1 (whole pixels) for photos,
    #: where landmarks only align the face for its embedding.
    landmark_upscale: int = 1
