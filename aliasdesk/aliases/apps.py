from django.apps import AppConfig


class AliasesConfig(AppConfig):
    name = "aliasdesk.aliases"
    label = "aliases"

    def ready(self) -> None:
        from django.utils.translation import gettext, ngettext

        from aliasdesk.accounts.domains import provide
        from aliasdesk.aliases.grants import DOMAIN_GRANTS
        from aliasdesk.postfix.text import set_translator

        provide(DOMAIN_GRANTS)
        set_translator(gettext, ngettext)  # the Postfix checks' messages in the user's language
