from django.apps import AppConfig


class DeploysConfig(AppConfig):
    name = "aliasdesk.deploys"
    label = "deploys"
