from django.urls import path

from cohorts import views

app_name = "cohorts"
urlpatterns = [
    path("import/", views.import_view, name="import"),
]
