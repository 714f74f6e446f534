from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "aliasdesk.api"
    label = "api"
    verbose_name = "REST API"
