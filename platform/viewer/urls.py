from django.urls import path

from viewer import views

app_name = "viewer"
urlpatterns = [
    path("case/<uuid:public_id>/", views.case_viewer, name="case"),
    path("case/<uuid:public_id>/config.json", views.case_viewer_config, name="case-config"),
    path("study/<str:study_uid>/", views.study_viewer, name="study"),
    path("wado", views.wado_uri, name="wado-uri"),
    path("wado/<str:sop_uid>", views.wado_instance, name="wado"),
    path("analysis/<uuid:request_id>/artefact/<str:name>", views.artefact_file, name="artefact"),
    path(
        "analysis/<uuid:request_id>/artefact/<str:name>/volume.json",
        views.artefact_volume,
        name="artefact-volume",
    ),
    path("analysis/<uuid:request_id>/artefact/<str:name>/data", views.artefact_data, name="artefact-data"),
]
