from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

    def ready(self) -> None:
        from django.core import checks
        from django.utils.translation import gettext, ngettext

        from aliasdesk.accounts.domains import provide
        from aliasdesk.aliases.grants import DOMAIN_GRANTS
        from aliasdesk.aliases.tickets import check_ticket_links
        from aliasdesk.postfix.text import set_translator

        provide(DOMAIN_GRANTS)
        checks.register(check_ticket_links, "aliasdesk")
        set_translator(gettext, ngettext)  # the Postfix checks' messages in the user's language
