from django.urls import include, path

from aliasdesk.web import views

urlpatterns = [
    path("domains/", views.domain_list, name="domain-list"),
    path("audit/", views.audit_log, name="audit-log"),
    path("", include("aliasdesk.web.reports.urls")),
]
