"""Teaching pages: thin views over teaching.services / selectors / dashboards.

Residents (and admins) read; admins build sets and see cohort dashboards and studies;
referring doctors get 403 everywhere. A read belongs to its reader: anyone else gets 404.
Nothing that depends on the answer is sent before the read is committed.
"""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Role, User
from accounts.permissions import admin_required, roles_required
from cases import thumbnails
from cases.models import Instance
from cases.selectors import case_series
from opinions.presentation import opinion_rows
from teaching import artefacts, dashboards, plots, scoring, selectors, services
from teaching.forms import ReadForm, SetBuildForm, class_label
from teaching.models import Read, TeachingSet
from teaching.spaced_repetition import INTERVAL_DAYS

readers_only = roles_required(Role.RESIDENT)
KEY_IMAGE_SIZE = 512


def _png(data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


# --- sets --------------------------------------------------------------------------------


@require_GET
@readers_only
def home(request):
    sets = [
        {"set": s, "progress": selectors.set_progress(request.user, s)}
        for s in selectors.visible_sets(request.user).prefetch_related("items")
    ]
    today = timezone.localdate()
    daily = Read.objects.filter(reader=request.user, kind=Read.Kind.DAILY, day=today).first()
    return render(request, "teaching/home.html", {"sets": sets, "daily": daily, "today": today})


@require_http_methods(["GET", "POST"])
@admin_required
def set_new(request):
    form = SetBuildForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            teaching_set, skipped = services.create_set(
                created_by=request.user,
                title=d["title"],
                task=d["task"],
                mode=d["mode"],
                order=d["order"],
                time_limit_s=d["time_limit_s"],
                description=d["description"],
                splits=d["splits"],
                filters=form.filters(),
                case_refs=form.case_refs_list() or None,
                limit=d["limit"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if skipped:
                messages.warning(
                    request, f"Left out (unknown, out of scope or in another split): {', '.join(skipped)}"
                )
            return redirect("teaching:set-detail", teaching_set.public_id)
    return render(request, "teaching/set_new.html", {"form": form})


def _set(request, public_id) -> TeachingSet:
    return get_object_or_404(selectors.visible_sets(request.user), public_id=public_id)


@require_GET
@readers_only
def set_detail(request, public_id):
    teaching_set = _set(request, public_id)
    context = {
        "set": teaching_set,
        "progress": selectors.set_progress(request.user, teaching_set),
        "splits": selectors.set_splits(teaching_set),
        "count": teaching_set.items.count(),
    }
    if request.user.is_admin_role:
        # Admins curate: they may see what the set contains, answers included.
        context["items"] = teaching_set.items.select_related("case__histopathology")
    return render(request, "teaching/set_detail.html", context)


@require_http_methods(["GET", "POST"])
@readers_only
def set_next(request, public_id):
    teaching_set = _set(request, public_id)
    step = selectors.next_step(request.user, teaching_set)
    if step is None:
        messages.success(request, "You have read every case of this set.")
        return redirect("teaching:set-detail", teaching_set.public_id)
    item, kind = step
    read = services.start_read(user=request.user, item=item, kind=kind)
    return redirect("teaching:read", read.public_id)


@require_GET
@readers_only
def daily(request):
    read = services.start_daily_read(user=request.user, day=timezone.localdate())
    if read is None:
        messages.info(request, "No library case is available for a case of the day yet.")
        return redirect("teaching:home")
    return redirect("teaching:read" if not read.is_committed else "teaching:reveal", read.public_id)


# --- reading -----------------------------------------------------------------------------


def _own_read(request, public_id) -> Read:
    return get_object_or_404(
        Read.objects.select_related("case", "item__teaching_set", "opinion"),
        public_id=public_id,
        reader=request.user,
    )


def _position(read: Read) -> tuple[int | None, int | None]:
    if not read.item_id:
        return None, None
    items = selectors.reader_items(read.reader, read.item.teaching_set)
    ids = [it.pk for it in items]
    return ids.index(read.item_id) + 1, len(ids)


def _reading_context(read: Read, form: ReadForm) -> dict:
    """Only what a reader may see before committing: images, clinical data, history."""
    case = read.case
    series = [s for s in case_series(case) if s.instance_count]
    key = artefacts.key_image(case)
    position, total = _position(read)
    limit = read.item.teaching_set.time_limit_s if read.item_id else None
    elapsed = (timezone.now() - read.started_at).total_seconds()
    context = {
        "read": read,
        "form": form,
        "task_label": case.get_task_display(),
        "clinical": getattr(case, "clinical", None),
        "history": case.history,
        "series": [
            {"index": i, "modality": s.modality, "view": s.view_position} for i, s in enumerate(series)
        ],
        "key": key,
        "position": position,
        "total": total,
        "time_limit_s": limit,
        "remaining_s": None if limit is None else max(0, int(limit - elapsed)),
        "set": read.item.teaching_set if read.item_id else None,
        "viewer_url": selectors.viewer_link(case, hidden=True),
    }
    if read.kind == Read.Kind.AIDED:
        # The second pass of the assisted study shows the model's opinion (not the answer).
        opinion = selectors.opinion_for_read(case)
        context["aid"] = {
            "rows": opinion_rows(opinion.result or {}) if opinion else [],
            "synthetic_training": bool(opinion and opinion.synthetic_training),
            "available": opinion is not None,
        }
        context["previous"] = Read.objects.filter(
            reader=read.reader, item=read.item, kind=Read.Kind.UNAIDED
        ).first()
    return context


@never_cache
@require_http_methods(["GET", "POST"])
@readers_only
def read(request, public_id):
    read = _own_read(request, public_id)
    if read.is_committed:
        return redirect(_after_commit(read))
    form = ReadForm(request.POST or None, task=read.case.task)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            read = services.commit_read(
                read=read,
                diagnosis=d["diagnosis"],
                malignant=d["malignant"],
                certainty=d["certainty"],
                region=d["region"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(_after_commit(read))
    return render(request, "teaching/read.html", _reading_context(read, form))


def _after_commit(read: Read) -> str:
    # In a study nothing is revealed before the reader's whole study is committed: each
    # commit goes on to the next read, and only the last one to its reveal.
    if read.kind in (Read.Kind.UNAIDED, Read.Kind.AIDED) and read.item_id:
        teaching_set = read.item.teaching_set
        if not selectors.study_finished(read.reader, teaching_set):
            return reverse("teaching:set-next", args=[teaching_set.public_id])
    return reverse("teaching:reveal", args=[read.public_id])


@never_cache
@require_GET
@readers_only
def read_state(request, public_id):
    """Timer state for the reading page; never anything about the answer."""
    read = _own_read(request, public_id)
    limit = read.item.teaching_set.time_limit_s if read.item_id else None
    elapsed = (timezone.now() - read.started_at).total_seconds()
    return JsonResponse(
        {
            "committed": read.is_committed,
            "elapsed_s": round(elapsed, 1),
            "time_limit_s": limit,
            "remaining_s": None if limit is None else max(0.0, round(limit - elapsed, 1)),
        }
    )


@require_GET
@readers_only
def read_image(request, public_id, index: int):
    """A series image by its position in the case, so no case or series id reaches the page."""
    read = _own_read(request, public_id)
    series = [s for s in case_series(read.case) if s.instance_count]
    if index >= len(series):
        raise Http404("No such image.")
    instances = list(Instance.objects.filter(series=series[index]).only("id", "sha256", "path"))
    middle = instances[len(instances) // 2]
    size = KEY_IMAGE_SIZE if request.GET.get("size") == "key" else thumbnails.THUMB_SIZE
    return _png(thumbnails.thumbnail_for(middle, size).read_bytes())


# --- reveal ------------------------------------------------------------------------------


def _revealable(read: Read) -> bool:
    # The site-wide rule (selectors.answers_hidden_for) also covers an unaided read whose
    # aided read is pending and every case of an unfinished assisted study.
    return read.is_committed and not selectors.answers_hidden_for(read.reader, read.case)


def _committed_read(request, public_id) -> Read:
    read = _own_read(request, public_id)
    if not _revealable(read):
        raise PermissionDenied("Commit your reading first.")
    return read


@never_cache
@require_GET
@readers_only
def reveal(request, public_id):
    read = _committed_read(request, public_id)
    case = read.case
    histo = getattr(case, "histopathology", None)
    opinion = read.opinion
    key = artefacts.key_image(case)
    heat_names = sorted(artefacts.opinion_artefacts(opinion, "heatmap")) if key else []
    reference_source = artefacts.reference_mask(case, key, opinion)[1] if key else ""
    next_url = None
    if read.item_id and selectors.next_step(request.user, read.item.teaching_set):
        next_url = reverse("teaching:set-next", args=[read.item.teaching_set.public_id])
    context = {
        "read": read,
        "case": case,
        "histo": histo,
        "your_label": class_label(read.diagnosis),
        "truth_label": class_label(read.truth_class) if read.truth_class else None,
        "rows": opinion_rows(opinion.result or {}) if opinion else [],
        "opinion": opinion,
        "model_label": class_label(read.model_class) if read.model_class else None,
        "model_correct": bool(read.model_class) and read.model_class == read.truth_class,
        "note": selectors.teaching_note(histo.diagnosis) if histo else None,
        "key": key,
        "heat_names": heat_names,
        "reference_source": reference_source,
        "scores": read.region_scores,
        "next_url": next_url,
        "set": read.item.teaching_set if read.item_id else None,
        "viewer_url": selectors.viewer_link(case, hidden=False),
    }
    if read.kind == Read.Kind.AIDED:
        context["unaided"] = Read.objects.filter(
            reader=read.reader, item=read.item, kind=Read.Kind.UNAIDED
        ).first()
    return render(request, "teaching/reveal.html", context)


@require_GET
@readers_only
def reveal_overlay(request, public_id, layer: str):
    """The key image with the tumour outline, your region and one heat-map (after commit only)."""
    read = _committed_read(request, public_id)
    key = artefacts.key_image(read.case)
    if key is None:
        raise Http404("No image.")
    from pathlib import Path

    import pydicom
    from django.conf import settings

    ds = pydicom.dcmread(Path(settings.MEDIA_ROOT) / key.instance.path)
    image = thumbnails.display_array(ds)
    reference, _ = artefacts.reference_mask(read.case, key, read.opinion)
    heat = None
    if layer != "regions":
        maps = artefacts.heatmaps(read.opinion, key)
        if layer not in maps:
            raise Http404("No such heat-map.")
        heat = maps[layer]
    region = (
        scoring.region_mask(read.region, image.shape)
        if read.region and image.shape == (key.rows, key.columns)
        else None
    )
    if reference is not None and reference.shape != image.shape:
        reference = None
    return _png(plots.overlay_png(image, region_mask=region, reference=reference, heat=heat))


# --- dashboards --------------------------------------------------------------------------


def _resident(request, user_id=None) -> User:
    if user_id is None:
        return request.user
    if not request.user.is_admin_role and request.user.pk != user_id:
        raise PermissionDenied("Only admins see other residents' dashboards.")
    return get_object_or_404(User, pk=user_id)


def _own_skill_reads(user) -> list[Read]:
    # Reads of cases still hidden from the resident (an unfinished assisted study) carry
    # the truth: they join the dashboards and their CSVs once the study is finished.
    hidden = selectors.hidden_case_ids(user)
    reads = selectors.committed_reads(user, kinds=dashboards.OWN_SKILL_KINDS)
    return [r for r in reads if r.case_id not in hidden]


@require_GET
@readers_only
def dashboard(request, user_id=None):
    resident = _resident(request, user_id)
    reads = _own_skill_reads(resident)
    summary = dashboards.resident_summary(reads)
    return render(
        request,
        "teaching/dashboard.html",
        {"resident": resident, "summary": summary, "user_id": resident.pk, "intervals": INTERVAL_DAYS},
    )


@require_GET
@readers_only
def dashboard_png(request, user_id, figure: str, task: str = ""):
    resident = _resident(request, user_id)
    reads = _own_skill_reads(resident)
    if figure == "learning":
        return _png(plots.learning_png(dashboards.learning_curve(reads)))
    if figure == "roc" and task in scoring.POSITIVE_CLASS:
        points = dashboards.roc_points([r for r in reads if r.case.task == task])
        return _png(plots.roc_png(points, positive=scoring.positive_label(task)))
    raise Http404("No such figure.")


def _csv(filename: str, rows: list[dict]) -> HttpResponse:
    flat = [dashboards.flatten(r) for r in rows]
    columns: list[str] = []
    for row in flat:
        columns += [c for c in row if c not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["empty"])
    writer.writeheader()
    writer.writerows(flat)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@readers_only
def dashboard_csv(request, user_id, table: str):
    resident = _resident(request, user_id)
    reads = _own_skill_reads(resident)
    summary = dashboards.resident_summary(reads)
    if table == "reads":
        rows = [
            {
                "committed_at": r.committed_at.isoformat(),
                "kind": r.kind,
                "task": r.case.task,
                "call": r.diagnosis,
                "malignant": r.malignant,
                "certainty": r.certainty,
                "truth": r.truth_class,
                "correct": r.correct,
                "model": r.model_class,
                "seconds": r.duration_s,
            }
            for r in reads
        ]
    elif table == "classes":
        rows = [row for block in summary["tasks"] for row in block["classes"]]
    elif table == "summary":
        rows = [{k: v for k, v in block.items() if k != "classes"} for block in summary["tasks"]]
    elif table == "weakest":
        rows = summary["weakest"]
    elif table == "learning":
        rows = dashboards.learning_curve(reads)
    else:
        raise Http404("No such table.")
    return _csv(f"{resident.username}-{table}.csv", rows)


def _cohort_reads(request):
    teaching_set = None
    qs = selectors.committed_reads(kinds=dashboards.OWN_SKILL_KINDS).filter(reader__role=Role.RESIDENT)
    if request.GET.get("set"):
        teaching_set = get_object_or_404(TeachingSet, public_id=request.GET["set"])
        qs = qs.filter(item__teaching_set=teaching_set)
    return teaching_set, list(qs)


@require_GET
@admin_required
def cohort(request):
    teaching_set, reads = _cohort_reads(request)
    tables = dashboards.cohort_tables(reads)
    residents = User.objects.filter(role=Role.RESIDENT).order_by("seniority", "username")
    return render(
        request,
        "teaching/cohort.html",
        {"tables": tables, "set": teaching_set, "sets": TeachingSet.objects.all(), "residents": residents},
    )


@require_GET
@admin_required
def cohort_csv(request, table: str):
    _, reads = _cohort_reads(request)
    tables = dashboards.cohort_tables(reads)
    if table not in ("performance", "per_reader", "per_diagnosis"):
        raise Http404("No such table.")
    return _csv(f"cohort-{table}.csv", tables[table])


@require_GET
@admin_required
def study(request, public_id):
    teaching_set = get_object_or_404(TeachingSet, public_id=public_id)
    reads = list(
        Read.objects.filter(item__teaching_set=teaching_set, reader__role=Role.RESIDENT).select_related(
            "case", "reader"
        )
    )
    tables = dashboards.study_tables(reads)
    fmt = request.GET.get("format")
    if fmt == "csv":
        return _csv(f"study-{teaching_set.pk}.csv", tables["readers"] + tables["groups"])
    if fmt == "png":
        return _png(plots.study_png(tables["groups"]))
    return render(request, "teaching/study.html", {"set": teaching_set, "tables": tables})
