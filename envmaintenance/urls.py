"""``path("maintenance/", include("envmaintenance.urls"))``: the staff pass view."""

from __future__ import annotations

from django.urls import path

from envmaintenance import views

app_name = "envmaintenance"
urlpatterns = [path("pass/", views.staff_pass, name="pass")]
