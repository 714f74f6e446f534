from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "aliasdesk.accounts"
    label = "accounts"

    def ready(self) -> None:
        from aliasdesk.accounts import signals

        signals.connect()
