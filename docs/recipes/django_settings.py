# The smallest settings for the Django recipe: no database, no apps, just the URLconf.
SECRET_KEY = "recipe-only-not-a-secret"
ROOT_URLCONF = "django_views"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
