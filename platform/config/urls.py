from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.login import LoginView
from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cases/", include("cases.urls")),
    path("ingest/", include("ingest.urls")),
    path("cohorts/", include("cohorts.urls")),
    path("opinions/", include("opinions.urls")),
    path("viewer/", include("viewer.urls")),
    path("dicomweb/", include("viewer.dicomweb_urls")),
    path("api/", include("config.api_urls")),
    path("teaching/", include("teaching.urls")),
    path("demo/", include("demo.urls")),
    path("admin/", admin.site.urls),
]
