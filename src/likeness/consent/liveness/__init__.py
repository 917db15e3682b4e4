"""Liveness: a live, randomized head-movement challenge, checked frame by frame.

A session draws a fresh sequence and timing of challenges (four of turn left, turn right, look
up, never one twice in a row, some with a pause facing the camera between them; then back to
centre), shown to the person before recording (``schedule``). A clip passes when:

1. it starts facing the camera, and one face is visible throughout (a few frames may miss,
   and frames where a far turn leaves the detector's range do not count: a slower detector
   with a wider range looks at those while the turn is unmet);
2. each challenge's pose is reached inside its own time window, and not well before it opens
   or well after it closes: head pose comes from MediaPipe's face mesh, 468 points in 3D
   fitted to its canonical face (``faces.face_mesh``, ``headpose.mesh_head_pose``; up to
   liveness-17 from dlib's 5 landmarks, which glasses' rims mislead), relative to the
   person's neutral pose in the lead-in. A recording of an earlier session
   fails here: its order or its timing is not this session's;
3. the left and right turns show depth: points tracked across the face (optical flow)
   between the neutral frame and several frames of each turn cannot be explained by one
   homography (parallax). A photo turned or tilted in front of the camera is a plane and
   moves by a homography; a head is not;
4. ... and relief (``depth.turn_depth``), which decides: a photo bent round a bottle or folded is
   not a plane, but its depth changes across the bend only (it stays straight along the
   other direction); a head's changes along every direction (the nose in front of brow and
   lips, the eyes behind brow and cheekbones);
5. the face stays the same person throughout (no swap mid-clip), and
6. its embedding matches the person's photo group (``people.identity``: by the face backend's
   own same-person distance).

The package: ``thresholds`` (every threshold, one frozen dataclass), ``schedule`` (challenge
kinds, sessions), ``reader`` (reading a clip once, keeping no frame), ``verdict`` (checks 1 to
6), ``live`` (a session checked as the camera sends it). What this resists and does not is in
the README. The thresholds were set on synthetic clips rendered from real photos, and await
validation on real camera footage.
"""

from likeness.consent.liveness.live import PACING, LiveCheck, LivePacing, Prompt
from likeness.consent.liveness.reader import liveness_poses
from likeness.consent.liveness.schedule import (
    TURNS,
    Challenge,
    ChallengeKind,
    ChallengeSession,
    new_session,
)
from likeness.consent.liveness.thresholds import THRESHOLDS, VERSION, Thresholds
from likeness.consent.liveness.verdict import LivenessResult, neutral_pose_problem, verify_clip

__all__ = [
    "PACING",
    "THRESHOLDS",
    "TURNS",
    "VERSION",
    "Challenge",
    "ChallengeKind",
    "ChallengeSession",
    "LiveCheck",
    "LivePacing",
    "LivenessResult",
    "Prompt",
    "Thresholds",
    "liveness_poses",
    "neutral_pose_problem",
    "new_session",
    "verify_clip",
]
