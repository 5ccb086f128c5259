"""The warmer registry (wsgi_cassandra.warmers): names, lookup, and asking a warmer without installing it."""

from __future__ import annotations

from typing import Any

import pytest

from wsgi_cassandra.check import describe_warmer
from wsgi_cassandra.exceptions import ConfigurationError
from wsgi_cassandra.warmers import get_warmer, is_available, names


def test_every_builtin_warmer_says_whether_it_works_here_without_installing() -> None:
    answers = {name: is_available(get_warmer(name)) for name in names()}
    assert answers["lazy"] is True
    assert answers["eager"] is True
    assert answers["auto"] is True
    assert answers["uwsgi"] is False  # not inside uWSGI
    assert answers["gunicorn"] is False  # no Gunicorn arbiter or worker is loading us


def test_check_describes_auto_without_installing_any_warmer(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(self: Any, holder: Any) -> None:
        raise AssertionError(f"check installed warmer {self.name!r}")

    for name in names():
        monkeypatch.setattr(type(get_warmer(name)), "install", never)
    assert describe_warmer("auto").startswith("auto -> fork + lazy in this process")


def test_a_warmer_without_available_is_assumed_to_work() -> None:
    class Custom:
        name = "custom"

        def install(self, holder: Any) -> None:
            pass

    warmer = Custom()
    assert get_warmer(warmer) is warmer
    assert is_available(warmer) is True


def test_unknown_warmer_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'gunicorn'"):
        get_warmer("gunicron")
