"""Primary bone tumour vs bone infection on radiographs (seed 003)."""
