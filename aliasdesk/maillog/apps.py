from django.apps import AppConfig


class MaillogConfig(AppConfig):
    name = "aliasdesk.maillog"
    label = "maillog"
