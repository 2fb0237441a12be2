"""JSON REST API of the second-opinion workflow, for hospital systems (token auth).

POST /api/v1/requests/ with multipart `files` (DICOM files or a zip), `pipeline`,
optional `clinical` and `reader` (JSON strings); then poll GET /api/v1/requests/<id>/;
the report is at .../report.pdf, and as a DICOM Encapsulated PDF at .../report.dcm.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import TASK_CHOICES
from opinions import selectors, services
from opinions.models import AnalysisRequest


class IsReferrerOrAdmin(permissions.BasePermission):
    message = "Second opinions are for referring doctors and admins."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_admin_role or user.is_referrer))


class RequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    case = serializers.UUIDField(source="case.public_id", read_only=True)
    progress = serializers.SerializerMethodField()
    result = serializers.SerializerMethodField()

    class Meta:
        model = AnalysisRequest
        fields = [
            "id",
            "case",
            "pipeline",
            "status",
            "error",
            "created_at",
            "finished_at",
            "progress",
            "result",
        ]

    def get_progress(self, obj) -> dict:
        return selectors.progress(obj)

    def get_result(self, obj) -> dict | None:
        opinion = getattr(obj, "opinion", None)
        return opinion.result if opinion else None


class JSONObjectField(serializers.CharField):
    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise serializers.ValidationError(f"not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value


class SubmitSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    pipeline = serializers.ChoiceField(choices=TASK_CHOICES, required=False)
    clinical = JSONObjectField(required=False)
    reader = JSONObjectField(required=False)


class RequestList(APIView):
    permission_classes = [IsReferrerOrAdmin]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=RequestSerializer(many=True))
    def get(self, request):
        qs = selectors.visible_requests(request.user).order_by("-created_at")[:200]
        return Response(RequestSerializer(qs, many=True).data)

    @extend_schema(
        request=SubmitSerializer,
        responses={201: RequestSerializer, 400: OpenApiResponse(description="bad input")},
    )
    def post(self, request):
        form = SubmitSerializer(data={**request.data.dict(), "files": request.FILES.getlist("files")})
        form.is_valid(raise_exception=True)
        from ingest.errors import IngestError
        from ingest.services import ingest_paths
        from opinions.suggest import suggest_pipeline

        folder = Path(tempfile.mkdtemp(prefix="api-request-"))
        try:
            paths = []
            for index, uploaded in enumerate(form.validated_data["files"]):
                target = folder / f"{index:05d}"
                with target.open("wb") as handle:
                    for chunk in uploaded.chunks():
                        handle.write(chunk)
                paths.append(target)
            ingested = ingest_paths(paths, user=request.user, owner=request.user, in_library=False)
        except IngestError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        case = ingested.case
        analysis = services.submit_analysis(
            case=case,
            pipeline=form.validated_data.get("pipeline") or suggest_pipeline(case),
            user=request.user,
            clinical=form.validated_data.get("clinical"),
            reader=form.validated_data.get("reader"),
        )
        return Response(RequestSerializer(analysis).data, status=status.HTTP_201_CREATED)


class RequestDetail(APIView):
    permission_classes = [IsReferrerOrAdmin]

    @extend_schema(responses=RequestSerializer)
    def get(self, request, request_id):
        analysis = selectors.visible_requests(request.user).filter(public_id=request_id).first()
        if analysis is None:
            raise Http404
        return Response(RequestSerializer(analysis).data)


class RequestReport(APIView):
    permission_classes = [IsReferrerOrAdmin]

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(description="PDF report")})
    def get(self, request, request_id):
        from opinions.report import render_report_pdf

        analysis = selectors.visible_requests(request.user).filter(public_id=request_id).first()
        if analysis is None or not hasattr(analysis, "opinion"):
            raise Http404
        return FileResponse(render_report_pdf(analysis).open("rb"), content_type="application/pdf")


class RequestReportDicom(APIView):
    """The PDF report wrapped as a DICOM Encapsulated PDF in the de-identified study."""

    permission_classes = [IsReferrerOrAdmin]

    @extend_schema(
        responses={
            (200, "application/dicom"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="Encapsulated PDF report"
            )
        }
    )
    def get(self, request, request_id):
        from opinions.report_dicom import render_report_dicom

        analysis = selectors.visible_requests(request.user).filter(public_id=request_id).first()
        if analysis is None or not hasattr(analysis, "opinion"):
            raise Http404
        return FileResponse(render_report_dicom(analysis).open("rb"), content_type="application/dicom")
