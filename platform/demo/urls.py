from django.urls import path

from demo import views

app_name = "demo"
urlpatterns = [path("training/", views.training_progress, name="training")]
