from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

    def ready(self) -> None:
        from aliasdesk.aliases import checks  # noqa: F401 - registers the ownership check
