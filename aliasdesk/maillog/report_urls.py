from django.urls import path

from aliasdesk.maillog import metrics, report_views

urlpatterns = [
    path("traffic/unused/", report_views.unused_aliases, name="unused-aliases"),
    path("metrics", metrics.metrics, name="metrics"),
]
