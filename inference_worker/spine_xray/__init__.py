"""Vertebral metastasis vs benign osteoporotic fracture on spine radiographs (seed 004)."""
