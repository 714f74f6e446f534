from django.apps import AppConfig


class WebConfig(AppConfig):
    """Pages and commands that put several apps together: the list of domains, demo, serve.

    The top layer: it may use every other app, and none uses it.
    """

    name = "aliasdesk.web"
    label = "web"
