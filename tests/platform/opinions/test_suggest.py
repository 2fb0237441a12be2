"""The question suggested from the uploaded images' modality, body part and views."""

from __future__ import annotations

import pytest

from cases.models import Case, Series, Study
from opinions.suggest import suggest_pipeline

pytestmark = pytest.mark.django_db


def case_with(*series: tuple[str, str, str]) -> Case:
    case = Case.objects.create(label="s", task="bone-xray")
    study = Study.objects.create(case=case, study_uid=f"1.2.{case.pk}")
    for i, (modality, body_part, view) in enumerate(series):
        Series.objects.create(
            study=study,
            series_uid=f"1.2.{case.pk}.{i}",
            modality=modality,
            body_part=body_part,
            view_position=view,
        )
    return case


@pytest.mark.parametrize(
    "series, expected",
    [
        ([("CT", "PELVIS", "")], "sacral-ct"),
        ([("CR", "LSPINE", "AP"), ("CR", "LSPINE", "LL")], "spine-xray"),
        ([("DX", "TSPINE", "LATERAL")], "spine-xray"),
        ([("CR", "LSPINE", "AP")], "bone-xray"),
        ([("CR", "EXTREMITY", "AP"), ("CR", "EXTREMITY", "LL")], "bone-xray"),
        ([("OT", "", "")], "bone-xray"),
    ],
)
def test_suggestion(series, expected):
    assert suggest_pipeline(case_with(*series)) == expected
