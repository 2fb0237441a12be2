from django.urls import path

from opinions import views

app_name = "opinions"
urlpatterns = [
    path("", views.my_requests, name="list"),
    path("new/", views.new_request, name="new"),
    path("case/<uuid:case_id>/configure/", views.configure, name="configure"),
    path("<uuid:request_id>/", views.detail, name="detail"),
    path("<uuid:request_id>/status.json", views.status, name="status"),
    path("<uuid:request_id>/retry/", views.retry, name="retry"),
    path("<uuid:request_id>/report.pdf", views.report_pdf, name="report-pdf"),
    path("<uuid:request_id>/report.dcm", views.report_dicom, name="report-dicom"),
    path("<uuid:request_id>/promote/", views.promote, name="promote"),
]
