from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

    def ready(self) -> None:
        from aliasdesk.accounts.domains import provide
        from aliasdesk.aliases.grants import DOMAIN_GRANTS

        provide(DOMAIN_GRANTS)
