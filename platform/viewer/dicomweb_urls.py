"""DICOMweb routes under /dicomweb/ (no trailing slashes, as DICOMweb clients build them)."""

from django.urls import path

from viewer import dicomweb_views as v

app_name = "dicomweb"
S = "studies/<str:study>"
SE = f"{S}/series/<str:series>"
I = f"{SE}/instances/<str:sop>"  # noqa: E741

urlpatterns = [
    path("studies", v.search_studies, name="studies"),
    path("series", v.search_series, name="all-series"),
    path("instances", v.search_instances, name="all-instances"),
    path(S, v.retrieve, name="study"),
    path(f"{S}/metadata", v.metadata, name="study-metadata"),
    path(f"{S}/series", v.search_series, name="study-series"),
    path(f"{S}/instances", v.search_instances, name="study-instances"),
    path(SE, v.retrieve, name="series"),
    path(f"{SE}/metadata", v.metadata, name="series-metadata"),
    path(f"{SE}/instances", v.search_instances, name="series-instances"),
    path(I, v.retrieve, name="instance"),
    path(f"{I}/metadata", v.metadata, name="instance-metadata"),
    path(f"{I}/frames/<str:frame_list>", v.frames, name="frames"),
]
