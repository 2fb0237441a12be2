"""The PDF report of a finished analysis (WeasyPrint), cached beside its artefacts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from opinions import presentation
from opinions.models import AnalysisRequest


def _key_images(out_dir: Path, artefacts: dict) -> list[dict]:
    images = []
    for name, relative in artefacts.items():
        if not str(relative).endswith(".png"):
            continue
        path = (out_dir / relative).resolve()
        if path.is_relative_to(out_dir.resolve()) and path.exists():
            images.append({"name": name.replace("_", " "), "uri": path.as_uri()})
    return images


def report_html(analysis: AnalysisRequest) -> str:
    result = analysis.opinion.result
    out_dir = Path(settings.MEDIA_ROOT) / analysis.out_dir
    return render_to_string(
        "opinions/report.html",
        {
            "analysis": analysis,
            "result": result,
            "rows": presentation.opinion_rows(result),
            "images": _key_images(out_dir, result.get("artefacts", {})),
            "generated": timezone.now(),
        },
    )


def render_report_pdf(analysis: AnalysisRequest) -> Path:
    from weasyprint import HTML

    out_dir = Path(settings.MEDIA_ROOT) / analysis.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "report.pdf"
    if target.exists():
        return target
    # Images are referenced as file:// URIs inside the analysis folder only.
    html = HTML(string=report_html(analysis), base_url=str(out_dir))
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".pdf.tmp")
    os.close(fd)
    html.write_pdf(tmp)
    os.replace(tmp, target)
    return target
