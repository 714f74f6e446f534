from django.urls import path

from aliasdesk.maillog import views

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/traffic.json", views.traffic_json, name="dashboard-traffic"),
]
