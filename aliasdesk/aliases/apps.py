from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

