from django.urls import path

from teaching import views

app_name = "teaching"
urlpatterns = [
    path("", views.home, name="home"),
    path("sets/new/", views.set_new, name="set-new"),
    path("sets/<uuid:public_id>/", views.set_detail, name="set-detail"),
    path("sets/<uuid:public_id>/next/", views.set_next, name="set-next"),
    path("sets/<uuid:public_id>/study/", views.study, name="study"),
    path("daily/", views.daily, name="daily"),
    path("reads/<uuid:public_id>/", views.read, name="read"),
    path("reads/<uuid:public_id>/state.json", views.read_state, name="read-state"),
    path("reads/<uuid:public_id>/images/<int:index>.png", views.read_image, name="read-image"),
    path("reads/<uuid:public_id>/reveal/", views.reveal, name="reveal"),
    path("reads/<uuid:public_id>/reveal/<slug:layer>.png", views.reveal_overlay, name="reveal-overlay"),
    path("me/", views.dashboard, name="dashboard"),
    path("residents/<int:user_id>/", views.dashboard, name="resident-dashboard"),
    path("residents/<int:user_id>/<slug:figure>.png", views.dashboard_png, name="dashboard-png"),
    path(
        "residents/<int:user_id>/<slug:figure>/<slug:task>.png",
        views.dashboard_png,
        name="dashboard-task-png",
    ),
    path("residents/<int:user_id>/<slug:table>.csv", views.dashboard_csv, name="dashboard-csv"),
    path("cohort/", views.cohort, name="cohort"),
    path("cohort/<slug:table>.csv", views.cohort_csv, name="cohort-csv"),
]
