"""Faces: detect, align and embed faces behind one small backend protocol; score their quality."""

from likeness.faces.protocol import DetectedFace, FaceBackend

__all__ = ["DetectedFace", "FaceBackend"]
