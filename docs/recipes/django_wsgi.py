# wsgi.py, next to settings.py
import os

from django.core.wsgi import get_wsgi_application

from wsgi_cassandra import CassandraMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_settings")
application = CassandraMiddleware(get_wsgi_application())
