from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

    def ready(self) -> None:
        from django.core import checks

        from aliasdesk.accounts.domains import provide
        from aliasdesk.aliases.grants import DOMAIN_GRANTS
        from aliasdesk.aliases.tickets import check_ticket_links

        provide(DOMAIN_GRANTS)
        checks.register(check_ticket_links, "aliasdesk")
