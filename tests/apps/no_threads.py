"""The items app in a uWSGI that reports Python threads disabled (``uwsgi.has_threads == 0``).

uWSGI 2.0.31 always enables threads (``--enable-threads`` is a stub there, ``enable-threads = false`` is
ignored), so the test fakes what an older uWSGI started without ``--enable-threads`` reports, in a real
uWSGI process, to show the middleware refuses to start with a clear message instead of hanging.
"""

from __future__ import annotations

import uwsgi

uwsgi.has_threads = 0

from tests.apps.items import application  # noqa: E402

__all__ = ["application"]
