"""Real scanners' files through `manage.py ingest`: JPEG 2000 CT with no file extensions,
a MONOCHROME1 JPEG 2000 radiograph and a NIfTI CT volume."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from nibabel import orientations as ornt

from cases.models import Case, Instance, Series
from cases.pseudonyms import case_pseudonym

pytestmark = pytest.mark.django_db


def stored(instance: Instance) -> pydicom.Dataset:
    return pydicom.dcmread(Path(settings.MEDIA_ROOT) / instance.path)


def test_jpeg2000_ct_series_without_extensions(real_data, capsys):
    folder = real_data / "ct_dicom_series_j2k"
    call_command("ingest", str(folder))
    out = capsys.readouterr().out
    assert "1 studies, 1 series, 20 instances" in out
    case = Case.objects.get()
    assert case.task == "sacral-ct"
    series = Series.objects.get()
    assert (series.modality, series.photometric, series.rows, series.columns) == (
        "CT",
        "MONOCHROME2",
        512,
        512,
    )
    assert series.pixel_spacing == [0.9765625, 0.9765625]
    assert series.orientation == [1, 0, 0, 0, 1, 0]
    assert series.slice_thickness == 3
    instances = list(series.instances.all())
    assert len(instances) == 20
    assert all(i.transfer_syntax == "1.2.840.10008.1.2.4.90" for i in instances)
    # Sorted along the normal (the model orders by slice_location): 3 mm slices every 2 mm.
    locations = [i.slice_location for i in instances]
    assert locations == sorted(locations)
    assert np.allclose(np.diff(locations), 2.0)
    originals = {}
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        originals[float(ds.ImagePositionPatient[2])] = ds
    for instance in instances[::6]:
        copy = stored(instance)
        original = originals[instance.image_position[2]]
        assert copy.SOPInstanceUID.startswith("2.25.")
        assert np.array_equal(copy.pixel_array, original.pixel_array)
        assert copy.RescaleIntercept == original.RescaleIntercept
        assert "Petersgraben" not in str(copy)  # InstitutionAddress of the original
    assert sum(1 for _ in Path(settings.MEDIA_ROOT, "objects").rglob("*.dcm")) == 20


def test_monochrome1_radiograph(real_data):
    path = real_data / "radiograph_nof_tibia" / "RG3_J2KR.dcm"
    call_command("ingest", str(path))
    series = Series.objects.get()
    assert (series.modality, series.photometric, series.rows, series.columns) == (
        "CR",
        "MONOCHROME1",
        1760,
        1760,
    )
    assert series.body_part == "EXTREMITY"
    assert series.view_position == "AP"
    assert series.pixel_spacing is None  # the file has none; nothing is invented
    assert Case.objects.get().task == "bone-xray"
    instance = Instance.objects.get()
    copy, original = stored(instance), pydicom.dcmread(path)
    assert copy.PhotometricInterpretation == "MONOCHROME1"
    assert np.array_equal(copy.pixel_array, original.pixel_array)
    assert copy.StudyDescription == "Non-ossifying fibroma of distal tibia"
    for value in ("CompressedSamples", "11RG3", "FUJI95706", "HIGASHI", "19790408"):
        assert value.encode() not in (Path(settings.MEDIA_ROOT) / instance.path).read_bytes()
    assert str(copy.PatientName) == f"ANON^{case_pseudonym(Case.objects.get())}"


def test_nifti_volume_becomes_a_ct_series_with_its_geometry(real_data):
    path = real_data / "ct_pelvis_totalseg" / "ct.nii.gz"
    call_command("ingest", str(path), "--task", "sacral-ct")
    series = Series.objects.get()
    assert series.source_format == "nifti"
    assert series.modality == "CT"
    img = nib.load(path)
    # The reference: the same volume put in LPS order the independent way.
    lps = img.as_reoriented(ornt.ornt_transform(ornt.io_orientation(img.affine), ornt.axcodes2ornt("LPS")))
    data = np.asanyarray(lps.dataobj)
    affine = np.diag([-1, -1, 1, 1]) @ lps.affine
    assert series.instances.count() == data.shape[2] == 112
    assert (series.rows, series.columns) == (data.shape[1], data.shape[0])
    assert np.allclose(series.pixel_spacing, [3, 3], atol=0.01)
    assert np.allclose(series.orientation, [1, 0, 0, 0, 1, 0], atol=1e-4)
    instances = list(series.instances.all())
    assert np.allclose(np.diff([i.slice_location for i in instances]), 3, atol=0.01)
    for k in (0, 55, 111):
        ds = stored(instances[k])
        assert np.allclose(ds.ImagePositionPatient, affine[:3, :3] @ [0, 0, k] + affine[:3, 3], atol=1e-3)
        hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        assert np.array_equal(hu, data[:, :, k].T)
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"


def test_every_real_file_and_the_rest_rejected(real_data):
    """All images of the real-data folder ingest; its NOTICE and JSON are not images."""
    for path in ("ct_dicom_series_j2k", "radiograph_nof_tibia/RG3_J2KR.dcm", "ct_pelvis_totalseg/ct.nii.gz"):
        call_command("ingest", str(real_data / path))
    assert Case.objects.count() == 3
    for not_image in ("NOTICE.md", "ct_pelvis_totalseg/spine_report.json"):
        with pytest.raises(CommandError, match="Not an image"):
            call_command("ingest", str(real_data / not_image))
    assert Case.objects.count() == 3
