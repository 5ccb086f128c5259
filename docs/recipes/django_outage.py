# A Django middleware, quiet during an outage: MIDDLEWARE = ["django_outage.CassandraUnavailable"] in settings.
from django.http import HttpResponse

from wsgi_cassandra import SessionUnavailable


class CassandraUnavailable:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # Handled here, so Django logs one line ("Service Unavailable: /items") instead of a traceback. The
        # client still gets the CassandraMiddleware's 503 (Retry-After and the cause), which replaces this one.
        if isinstance(exception, SessionUnavailable):
            return HttpResponse("Cassandra unavailable", status=503)
        return None
