from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "aliasdesk.accounts"
    label = "accounts"
