# The smallest settings for the Django recipe: no database, no apps, the URLconf and the outage middleware.
SECRET_KEY = "recipe-only-not-a-secret"
ROOT_URLCONF = "django_views"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django_outage.CassandraUnavailable"]  # one log line per request in an outage
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
