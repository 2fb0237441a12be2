"""Builders for teaching tests: held-out library cases, opinions, committed reads."""

from __future__ import annotations

import itertools

from django.utils import timezone

from cohorts.models import Cohort, CohortMembership
from opinions.models import AnalysisRequest, ModelOpinion
from tests.platform.factories import make_case

_n = itertools.count(1)


def held_out_case(*, split: str = "test", cohort: str = "teach", **kwargs):
    """A library case in one split of a cohort (test by default: eligible for sets)."""
    case = make_case(**kwargs)
    c, _ = Cohort.objects.get_or_create(name=cohort, defaults={"task": case.task})
    CohortMembership.objects.create(cohort=c, case=case, split=split, centre="A")
    return case


def make_opinion(
    case, probabilities: dict, *, model="teach-net", version="1", synthetic=True, artefacts=None, kind=None
):
    """A finished analysis with a realistic worker result (the worker is not needed)."""
    request = AnalysisRequest.objects.create(
        case=case, pipeline=case.task, status=AnalysisRequest.Status.DONE, finished_at=timezone.now()
    )
    top = max(probabilities, key=probabilities.get)
    result = {
        "request_id": str(request.public_id),
        "out_dir": request.out_dir,
        "opinions": [
            {
                "model": model,
                "kind": kind or ("six_class" if case.task == "sacral-ct" else "binary"),
                "probabilities": probabilities,
                "top_class": top,
                "embedding": [0.1, 0.2, 0.3],
            }
        ],
        "artefacts": artefacts or {},
        "models": [{"name": model, "version": version, "sha256": "ab" * 32, "synthetic_training": synthetic}],
        "synthetic_training": synthetic,
        "out_of_domain": False,
    }
    return ModelOpinion.objects.create(
        request=request,
        result=result,
        synthetic_training=synthetic,
        model_versions=[
            {"name": model, "version": version, "sha256": "ab" * 32, "synthetic_training": synthetic}
        ],
    )


BASE_TIME = timezone.make_aware(timezone.datetime(2026, 11, 1, 9, 0))


def committed_read(reader, case, call, *, malignant=False, certainty="probable", kind="quiz", item=None,
                   model_class="", model_score=None, minute=None, seconds=30.0):  # fmt: skip
    """A committed read written directly, truth filled the way commit_read fills it."""
    from datetime import timedelta

    from inference_worker import vocabulary as vocab
    from teaching.models import Read

    histo = case.histopathology
    truth = vocab.task_class(case.task, histo.diagnosis) or ""
    at = BASE_TIME + timedelta(minutes=next(_n) if minute is None else minute)
    read = Read.objects.create(
        reader=reader,
        case=case,
        item=item,
        kind=kind,
        diagnosis=call,
        malignant=malignant,
        certainty=certainty,
        truth_class=truth,
        truth_diagnosis=histo.diagnosis,
        truth_malignant=histo.behaviour == "malignant",
        correct=(truth == call) if truth else None,
        malignant_correct=(histo.behaviour == "malignant") == malignant,
        model_class=model_class,
        model_score=model_score,
        committed_at=at,
        duration_s=seconds,
    )
    Read.objects.filter(pk=read.pk).update(started_at=at - timedelta(seconds=seconds))
    return read


def add_image(case, *, description: str = ""):
    """A stored CT slice for `case` whose DICOM header carries `description` as free text."""
    import numpy as np
    from pydicom.uid import ExplicitVRLittleEndian

    from cases.models import Instance, Series, Study
    from tests.platform.factories import ct_slice, store_dataset

    yy, xx = np.mgrid[:64, :64]
    ds = ct_slice(np.where((yy - 32) ** 2 + (xx - 32) ** 2 < 200, 1000, 40))
    if description:
        ds.SeriesDescription = description
        ds.StudyDescription = description
    sha, path, size = store_dataset(ds)
    study = Study.objects.create(case=case, study_uid=ds.StudyInstanceUID, description=description)
    series = Series.objects.create(
        study=study,
        series_uid=ds.SeriesInstanceUID,
        modality="CT",
        rows=64,
        columns=64,
        description=description,
    )
    Instance.objects.create(
        series=series,
        sop_uid=ds.SOPInstanceUID,
        sop_class_uid=ds.SOPClassUID,
        transfer_syntax=ExplicitVRLittleEndian,
        sha256=sha,
        path=path,
        size=size,
        rows=64,
        columns=64,
    )
    return series
