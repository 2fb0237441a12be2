"""JSON REST API of the second-opinion workflow, for hospital systems (token auth).

POST /api/v1/requests/ with multipart `files` (DICOM files or a zip), `pipeline`,
optional `clinical` and `reader` (JSON strings); then poll GET /api/v1/requests/<id>/;
the report is at .../report.pdf, and as a DICOM Encapsulated PDF at .../report.dcm.
"""

from __future__ import annotations

import json

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import TASK_CHOICES
from ingest import uploads
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


def _form_message(errors: dict, files: list) -> str:
    parts = []
    for field, problems in errors.items():
        if field == "files" and isinstance(problems, dict):  # {index: [messages]} per file
            for index, texts in problems.items():
                name = files[int(index)].name if int(index) < len(files) else f"file {index}"
                parts.append(f"{name}: {' '.join(map(str, texts))}")
        else:
            texts = problems if isinstance(problems, list) else [problems]
            parts.append(f"{field}: {' '.join(map(str, texts))}")
    return "; ".join(parts) or "The request is invalid."


class RequestList(APIView):
    permission_classes = [IsReferrerOrAdmin]
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before authentication: session authentication's CSRF check reads the body.
        if request.method == "POST":
            uploads.install(request)
        return super().initialize_request(request, *args, **kwargs)

    def handle_exception(self, exc):
        refused = uploads.refusal_of(exc)
        if refused is None:
            return super().handle_exception(exc)
        return Response({"error": refused.error.message, "code": refused.error.code}, status=refused.status)

    @extend_schema(responses=RequestSerializer(many=True))
    def get(self, request):
        qs = selectors.visible_requests(request.user).order_by("-created_at")[:200]
        return Response(RequestSerializer(qs, many=True).data)

    @extend_schema(
        request=SubmitSerializer,
        responses={201: RequestSerializer, 400: OpenApiResponse(description="bad input")},
    )
    def post(self, request):
        uploads.check_declared(request)  # before the body is parsed below
        files = request.FILES.getlist("files")
        form = SubmitSerializer(data={**request.data.dict(), "files": files})
        if not form.is_valid():
            # The field errors as before, plus one message naming the files concerned.
            return Response(
                {**form.errors, "error": _form_message(form.errors, files), "code": "invalid"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        from ingest.errors import IngestError
        from opinions.suggest import suggest_pipeline

        try:
            ingested = uploads.ingest_upload(
                form.validated_data["files"], user=request.user, owner=request.user, in_library=False
            )
        except IngestError as exc:
            return Response({"error": exc.message, "code": exc.code}, status=status.HTTP_400_BAD_REQUEST)
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
