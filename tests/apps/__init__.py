"""WSGI apps that the integration tests serve with real uWSGI and Gunicorn processes."""
