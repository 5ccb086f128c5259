# views.py (and, for this example, urls.py)
from django.http import JsonResponse
from django.urls import path


def items(request):
    session = request.META["cassandra.session"]  # request.META is the WSGI environ
    return JsonResponse({"items": [row.name for row in session.execute("SELECT id, name FROM items")]})


urlpatterns = [path("items", items)]
