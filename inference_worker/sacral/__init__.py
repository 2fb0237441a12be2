"""Sacral tumour CT pipeline (seeds 000, 001, 002): segmentation, hip-bone frame,
six-class fusion classifier, benign/malignant DenseNet with the reader's interpretation."""
