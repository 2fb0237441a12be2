from django.urls import path

from cases import views

app_name = "cases"
urlpatterns = [
    path("", views.library, name="library"),
    path("<uuid:public_id>/", views.case_detail, name="detail"),
    path(
        "<uuid:public_id>/series/<str:series_uid>/thumbnail.png",
        views.series_thumbnail,
        name="series-thumbnail",
    ),
]
