"""Pieces shared by the radiograph pipelines (bone-xray, spine-xray): preprocessing,
networks, the 2D training loop, saliency overlays and the out-of-domain check."""
