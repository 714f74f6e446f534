import os

from django.core.wsgi import get_wsgi_application

from aliasdesk import datadir

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aliasdesk.settings")
datadir.prepare()
application = get_wsgi_application()
