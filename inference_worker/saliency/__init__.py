"""Saliency maps for model opinions: Grad-CAM (via MONAI) and our own Score-CAM."""

from .gradcam import grad_cam
from .scorecam import score_cam, score_cam_reference

__all__ = ["grad_cam", "score_cam", "score_cam_reference"]
