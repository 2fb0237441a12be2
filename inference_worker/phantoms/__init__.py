"""Synthetic phantoms: sacral CT, bone and spine radiographs, with ground truth.

Everything here is plain numpy/scipy (no Django, no torch) so cohorts can be made
on any machine. Each generator is deterministic in its seed. Every image made here
is marked SYNTHETIC in its metadata and file headers; none shows a real patient.
"""
