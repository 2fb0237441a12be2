"""Shared, session-scoped phantom cases: rendering is the slow part, so render once."""

import pytest

from inference_worker.phantoms import bone_xray, sacral_ct, spine_xray


@pytest.fixture(scope="session")
def ct_case():
    return sacral_ct.generate_case(1234, "giant_cell_tumour")


@pytest.fixture(scope="session")
def bone_case():
    return bone_xray.generate_case(42, "osteosarcoma")


@pytest.fixture(scope="session")
def spine_case():
    return spine_xray.generate_case(42, "metastasis")
