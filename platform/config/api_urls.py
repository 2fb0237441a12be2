from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from opinions import api

urlpatterns = [
    path("v1/requests/", api.RequestList.as_view(), name="api-requests"),
    path("v1/requests/<uuid:request_id>/", api.RequestDetail.as_view(), name="api-request"),
    path("v1/requests/<uuid:request_id>/report.pdf", api.RequestReport.as_view(), name="api-request-report"),
    path(
        "v1/requests/<uuid:request_id>/report.dcm",
        api.RequestReportDicom.as_view(),
        name="api-request-report-dicom",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
