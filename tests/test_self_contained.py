"""The repository needs nothing beside it: no tracked file points outside the checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# A sibling folder of the checkout or this machine's own layout.
OUTSIDE = re.compile(r"\.\./shared|parent\s*/\s*\"shared\"|/work/(shared|cohorts|main)")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


def test_no_tracked_text_file_names_a_path_outside_the_repository():
    offenders = []
    for path in tracked_files():
        if path.is_symlink() or path.suffix not in {".py", ".md", ".toml", ".cfg", ".yaml", ".yml", ""}:
            continue
        if path == Path(__file__).resolve() or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        offenders += [f"{path.relative_to(REPO)}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert offenders == []


def test_every_tracked_link_resolves_inside_the_repository():
    links = [p for p in tracked_files() if p.is_symlink()]
    assert links, "tests/data/real/ct_pelvis_totalseg is expected to be a link"
    for link in links:
        target = link.resolve()
        assert target.exists(), f"{link} is dangling"
        assert target.is_relative_to(REPO), f"{link} points outside the repository"


def test_real_data_is_in_the_repository_with_its_notice(real_data):
    assert real_data.resolve().is_relative_to(REPO)
    notice = (real_data / "NOTICE.md").read_text()
    for folder in ("ct_dicom_series_j2k", "radiograph_nof_tibia", "ct_pelvis_totalseg"):
        assert (real_data / folder).is_dir()
        assert folder in notice
    assert (real_data / "ct_pelvis_totalseg" / "ct.nii.gz").stat().st_size > 1_000_000
