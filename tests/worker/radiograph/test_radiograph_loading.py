"""Loading radiographs: the DICOM display pipeline, MONOCHROME1, compressed files, pictures."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from inference_worker.io.radiograph import load_radiograph

TIBIA = "radiograph_nof_tibia/RG3_J2KR.dcm"


def _write_cr(path, stored: np.ndarray, photometric="MONOCHROME2", **tags) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def _ramp() -> np.ndarray:
    # Asymmetric on purpose: bright top-left block, so a flip or transpose would show.
    stored = np.tile(np.linspace(100, 4000, 40), (30, 1))
    stored[:5, :8] = 4095
    return np.rint(stored).astype(np.uint16)


def test_real_monochrome1_jpeg2000_tibia_loads_with_bone_white(real_data):
    r = load_radiograph(real_data / TIBIA)
    assert r.shape == (1760, 1760)
    assert (r.modality, r.photometric, r.body_part) == ("CR", "MONOCHROME1", "EXTREMITY")
    assert r.pixel_spacing is None
    shaft = r.pixels[380:420, 800:840].mean()  # tibial shaft
    soft = r.pixels[380:420, 620:660].mean()  # calf soft tissue beside it
    assert shaft > soft + 0.4, (shaft, soft)
    assert 0.0 <= r.pixels.min() and r.pixels.max() <= 1.0


def test_monochrome1_is_the_inverse_of_monochrome2(tmp_path):
    stored = _ramp()
    _write_cr(tmp_path / "m2.dcm", stored)
    _write_cr(tmp_path / "m1.dcm", stored, photometric="MONOCHROME1")
    m2 = load_radiograph(tmp_path / "m2.dcm").pixels
    m1 = load_radiograph(tmp_path / "m1.dcm").pixels
    np.testing.assert_allclose(m1, 1.0 - m2, atol=1e-6)
    assert m2[0, 0] == pytest.approx(1.0) and m2[0, 0] > m2[-1, 0]  # orientation kept: row 0 is the top


def test_window_is_applied_after_rescale(tmp_path):
    stored = _ramp()
    # modality LUT: value = 2 * stored - 1000; window 2000 +- 1000 on those values
    _write_cr(
        tmp_path / "w.dcm",
        stored,
        RescaleSlope="2",
        RescaleIntercept="-1000",
        WindowCenter="2000",
        WindowWidth="2000",
    )
    p = load_radiograph(tmp_path / "w.dcm").pixels
    values = 2.0 * stored - 1000
    assert np.all(p[values <= 999] == 0.0)
    assert np.all(p[values >= 3001] == 1.0)
    inside = (values > 1100) & (values < 2900)
    expected = (values[inside] - (2000 - 0.5 - 999.5)) / 1999.0
    np.testing.assert_allclose(p[inside], expected, atol=1e-4)


def test_png_8_and_16_bit_and_extensionless_dicom(tmp_path):
    array = _ramp()
    Image.fromarray((array // 16).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(array.astype(np.uint16)).save(tmp_path / "b.png")
    a = load_radiograph(tmp_path / "a.png")
    b = load_radiograph(tmp_path / "b.png")
    assert a.source == b.source == "picture" and a.shape == b.shape == (30, 40)
    assert np.corrcoef(a.pixels.ravel(), b.pixels.ravel())[0, 1] > 0.99
    _write_cr(tmp_path / "noext", array)
    assert load_radiograph(tmp_path / "noext").source == "dicom"


def test_real_ct_slice_loads_and_says_ct(real_data):
    first = sorted((real_data / "ct_dicom_series_j2k").iterdir())[0]
    r = load_radiograph(first)
    assert r.modality == "CT" and r.shape == (512, 512)


def test_not_an_image_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError):
        load_radiograph(tmp_path / "x.txt")
