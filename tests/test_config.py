"""Settings: environment variables, explicit arguments, and every bad value naming its setting."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from wsgi_cassandra import CassandraMiddleware, ConfigurationError
from wsgi_cassandra.config import Settings, WarmerName, options, readme_table, settings_from_env
from wsgi_cassandra.secret import Secret
from wsgi_cassandra.warmers import names as warmer_names

README = Path(__file__).resolve().parent.parent / "README.md"
# Keyword arguments of CassandraMiddleware that are objects, not settings (so not in the table).
NOT_SETTINGS = {"self", "app", "cluster_factory", "statements", "environ"}

SECRET = "s3cr3t-Pa55word"


def app(environ: Any, start_response: Any) -> list[bytes]:  # pragma: no cover - never called here
    return []


def test_defaults_without_environment() -> None:
    settings = Settings.resolve({}, {})
    assert settings.contact_points == ("127.0.0.1",)
    assert settings.port == 9042
    assert settings.keyspace is None
    assert settings.warmer == "auto"


def test_environment_is_read() -> None:
    env = {
        "CASSANDRA_CONTACT_POINTS": "10.0.0.1, 10.0.0.2:9142,[::1]:9043",
        "CASSANDRA_PORT": "9142",
        "CASSANDRA_KEYSPACE": "shop",
        "CASSANDRA_USERNAME": "web",
        "CASSANDRA_PASSWORD": SECRET,
        "CASSANDRA_LOCAL_DC": "eu-west",
        "CASSANDRA_PROTOCOL_VERSION": "4",
        "CASSANDRA_CONNECT_TIMEOUT": "2.5",
        "WSGI_CASSANDRA_WARMER": "LAZY",
        "WSGI_CASSANDRA_WARM_TIMEOUT": "3",
    }
    settings = Settings.resolve({}, env)
    assert settings.contact_points == ("10.0.0.1", "10.0.0.2:9142", "[::1]:9043")
    assert (settings.port, settings.keyspace, settings.username) == (9142, "shop", "web")
    assert settings.password is not None
    assert settings.password.reveal() == SECRET
    assert (settings.local_dc, settings.protocol_version, settings.connect_timeout) == ("eu-west", 4, 2.5)
    assert (settings.warmer, settings.warm_timeout) == ("lazy", 3.0)


def test_explicit_argument_beats_environment() -> None:
    env = {"CASSANDRA_PORT": "9142", "CASSANDRA_KEYSPACE": "from_env", "WSGI_CASSANDRA_WARMER": "fork"}
    settings = Settings.resolve({"port": 9043, "keyspace": "from_arg", "warmer": None}, env)
    assert (settings.port, settings.keyspace, settings.warmer) == (9043, "from_arg", "fork")


def test_password_file(tmp_path: Any) -> None:
    path = tmp_path / "password"
    path.write_text(SECRET + "\n")
    settings = Settings.resolve({}, {"CASSANDRA_USERNAME": "web", "CASSANDRA_PASSWORD_FILE": str(path)})
    assert settings.password == Secret(SECRET)


def test_empty_variable_counts_as_unset() -> None:
    assert settings_from_env({"CASSANDRA_PORT": "", "CASSANDRA_KEYSPACE": " "}) == {}


@pytest.mark.parametrize(
    ("env", "named", "value"),
    [
        pytest.param({"CASSANDRA_PORT": "nine"}, "CASSANDRA_PORT", "nine", id="port-not-a-number"),
        pytest.param({"CASSANDRA_PORT": "70000"}, "CASSANDRA_PORT", "70000", id="port-out-of-range"),
        pytest.param({"CASSANDRA_CONTACT_POINTS": ""}, "CASSANDRA_CONTACT_POINTS", "''", id="contact-empty"),
        pytest.param({"CASSANDRA_CONTACT_POINTS": "a,,b"}, "CASSANDRA_CONTACT_POINTS", "a,,b", id="contact-gap"),
        pytest.param({"CASSANDRA_CONTACT_POINTS": "h:x1"}, "CASSANDRA_CONTACT_POINTS", "x1", id="contact-port"),
        pytest.param({"CASSANDRA_PROTOCOL_VERSION": "7"}, "CASSANDRA_PROTOCOL_VERSION", "7", id="protocol-unknown"),
        pytest.param({"CASSANDRA_PROTOCOL_VERSION": "v4"}, "CASSANDRA_PROTOCOL_VERSION", "v4", id="protocol-text"),
        pytest.param({"CASSANDRA_CONNECT_TIMEOUT": "0"}, "CASSANDRA_CONNECT_TIMEOUT", "0", id="timeout-zero"),
        pytest.param({"CASSANDRA_CONNECT_TIMEOUT": "nan"}, "CASSANDRA_CONNECT_TIMEOUT", "nan", id="timeout-nan"),
        pytest.param({"WSGI_CASSANDRA_WARM_TIMEOUT": "-3"}, "WSGI_CASSANDRA_WARM_TIMEOUT", "-3", id="warm-timeout"),
        pytest.param({"CASSANDRA_KEYSPACE": "my-shop"}, "CASSANDRA_KEYSPACE", "my-shop", id="keyspace-dash"),
        pytest.param({"WSGI_CASSANDRA_WARMER": "turbo"}, "WSGI_CASSANDRA_WARMER", "turbo", id="warmer-unknown"),
        pytest.param(
            {"CASSANDRA_USERNAME": "web", "CASSANDRA_PASSWORD_FILE": "/nonexistent/pw"},
            "CASSANDRA_PASSWORD_FILE",
            "/nonexistent/pw",
            id="password-file-missing",
        ),
        pytest.param({"CASSANDRA_USERNAME": "web"}, "CASSANDRA_PASSWORD", "", id="username-without-password"),
        pytest.param({"CASSANDRA_PASSWORD": SECRET}, "CASSANDRA_USERNAME", "", id="password-without-username"),
        pytest.param(
            {"CASSANDRA_USERNAME": "w", "CASSANDRA_PASSWORD": SECRET, "CASSANDRA_PASSWORD_FILE": "/x"},
            "CASSANDRA_PASSWORD_FILE",
            "",
            id="password-twice",
        ),
    ],
)
def test_bad_setting_fails_at_construction_naming_it(env: dict[str, str], named: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ=env)
    message = str(info.value)
    assert named in message
    assert value in message
    assert SECRET not in message
    if "WARMER" in named:
        assert "lazy" in message
        assert "uwsgi" in message
        assert "gunicorn" in message


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        pytest.param({"port": 0}, "port=", id="port"),
        pytest.param({"protocol_version": 99}, "protocol_version=", id="protocol"),
        pytest.param({"contact_points": []}, "contact_points=", id="contact-points"),
        pytest.param({"warmer": "nope"}, "warmer", id="warmer"),
        pytest.param({"on_unavailable": "retry"}, "on_unavailable", id="on-unavailable"),
        pytest.param({"password": SECRET}, "CASSANDRA_USERNAME", id="password-without-username"),
    ],
)
def test_bad_argument_fails_at_construction_naming_it(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ={}, **kwargs)
    assert named in str(info.value)
    assert SECRET not in str(info.value)


def test_password_never_in_repr_or_str() -> None:
    middleware = CassandraMiddleware(app, username="web", password=SECRET, warmer="lazy", environ={})
    settings = middleware.settings
    for text in (repr(settings), str(settings), repr(middleware), repr(settings.password), str(settings.password)):
        assert SECRET not in text
    assert settings.password is not None
    assert settings.password.reveal() == SECRET


def test_password_file_contents_never_in_errors(tmp_path: Any) -> None:
    path = tmp_path / "password"
    path.write_text(SECRET)
    with pytest.raises(ConfigurationError) as info:
        Settings.resolve({}, {"CASSANDRA_PASSWORD_FILE": str(path), "CASSANDRA_PORT": "x"})
    assert SECRET not in str(info.value)


def _union(annotation: str) -> set[str]:
    return {part.strip() for part in annotation.split("|")} - {"None"}


def test_middleware_signature_matches_the_settings_table() -> None:
    """Each row of the table is a keyword-only argument defaulting to None, of the table's type."""
    parameters = inspect.signature(CassandraMiddleware.__init__).parameters
    table = {option.name: option for option in options()}
    assert set(parameters) - NOT_SETTINGS == set(table), "the signature and config.Settings disagree"
    for name, option in table.items():
        parameter = parameters[name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default is None, f"{name}: its default belongs in the table ({option.default!r})"
        assert _union(str(parameter.annotation)) == _union(option.argument or option.type), name


def test_help_documents_every_argument_with_its_variable() -> None:
    doc = CassandraMiddleware.__doc__ or ""
    for option in options():
        assert f"- {option.name}: " in doc
        assert option.doc.replace("`", "") in doc
        if option.env is not None:
            assert option.env in doc
    for name in NOT_SETTINGS - {"self", "app"}:
        assert f"``{name}``" in doc


def test_readme_table_is_the_settings_table() -> None:
    expected = readme_table()
    assert expected in README.read_text(encoding="utf-8"), (
        "README's configuration table differs from config.Settings; replace it with the output of\n"
        "  python -c 'from wsgi_cassandra.config import readme_table; print(readme_table())'\n\n" + expected
    )


def test_every_variable_is_read(tmp_path: Path) -> None:
    """A value for every variable in the table arrives in its setting (a new setting needs a sample here)."""
    pem = tmp_path / "x.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    samples = {
        "contact_points": ("10.0.0.9", ("10.0.0.9",)),
        "port": ("9999", 9999),
        "keyspace": ("shop", "shop"),
        "username": ("web", "web"),
        "password": (SECRET, Secret(SECRET)),
        "local_dc": ("dc2", "dc2"),
        "protocol_version": ("4", 4),
        "connect_timeout": ("7", 7.0),
        "ssl": ("yes", True),
        "ssl_ca": (str(pem), str(pem)),
        "ssl_cert": (str(pem), str(pem)),
        "ssl_key": (str(pem), str(pem)),
        "ssl_check_hostname": ("no", False),
        "warmer": ("Lazy", "lazy"),
        "warm_timeout": ("3", 3.0),
        "retry_max": ("4", 4.0),
        "shutdown_timeout": ("2", 2.0),
        "health_path": ("/healthz", "/healthz"),
        "fast_connect": ("1", True),
        "schema_metadata": ("none", "none"),
        "metadata_keyspaces": ("a,b", ("a", "b")),
        "warm_jitter": ("0.5", 0.5),
        "consistency": ("local_quorum", "LOCAL_QUORUM"),
        "serial_consistency": ("LOCAL_SERIAL", "LOCAL_SERIAL"),
        "request_timeout": ("2", 2.0),
        "cqlengine": ("yes", True),
        "metrics_path": ("/metrics", "/metrics"),
        "metrics_requests": ("no", False),
    }
    env = {option.env: samples[option.name][0] for option in options() if option.env}
    assert {name: value for name, (_, value) in samples.items()} == settings_from_env(env)
    settings = Settings.resolve({}, env)
    for name, (_, value) in samples.items():
        assert getattr(settings, name) == value, name


def test_builtin_warmer_names_are_the_literal_type() -> None:
    from typing import get_args

    assert set(get_args(WarmerName)) == set(warmer_names())


@pytest.mark.parametrize(
    ("env", "kwargs", "suggestion"),
    [
        pytest.param({"WSGI_CASSANDRA_WARMER": "gunicron"}, {}, "did you mean 'gunicorn'?", id="warmer-env"),
        pytest.param({}, {"warmer": "uwgsi"}, "did you mean 'uwsgi'?", id="warmer-argument"),
        pytest.param({"WSGI_CASSANDRA_SCHEMA_METADATA": "keyspace"}, {}, "did you mean 'keyspaces'?", id="schema"),
        pytest.param({}, {"on_unavailable": "ap"}, "did you mean 'app'?", id="on-unavailable"),
    ],
)
def test_mistyped_choice_suggests_the_closest(env: dict[str, str], kwargs: dict[str, Any], suggestion: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ=env, **kwargs)
    assert suggestion in str(info.value)


def test_mistyped_setting_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'keyspace'"):
        Settings.resolve({"keyspce": "shop"}, {})


def test_choices_are_case_insensitive() -> None:
    settings = Settings.resolve({"on_unavailable": "APP"}, {"WSGI_CASSANDRA_SCHEMA_METADATA": " Keyspaces "})
    assert (settings.on_unavailable, settings.schema_metadata) == ("app", "keyspaces")


def unused_cluster_factory() -> Any:  # pragma: no cover - never called here
    raise AssertionError("not called at construction")


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        pytest.param({"consistency": "QUORUM"}, ["consistency="], id="consistency"),
        pytest.param({"serial_consistency": "LOCAL_SERIAL"}, ["serial_consistency="], id="serial-consistency"),
        pytest.param({"request_timeout": 3}, ["request_timeout="], id="request-timeout"),
        pytest.param({"execution_profiles": {"slow": object()}}, ["execution_profiles="], id="execution-profiles"),
        pytest.param(
            {"contact_points": "10.0.0.1", "port": 9142, "username": "app", "password": SECRET},
            ["contact_points=", "port=", "username=", "password="],
            id="connection",
        ),
        pytest.param({"ssl": True, "local_dc": "dc1"}, ["local_dc=", "ssl="], id="tls-and-dc"),
    ],
)
def test_cluster_factory_refuses_the_settings_it_replaces(kwargs: dict[str, Any], named: list[str]) -> None:
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ={}, warmer="lazy", cluster_factory=unused_cluster_factory, **kwargs)
    message = str(info.value)
    assert "cluster_factory=" in message
    for name in named:
        assert name in message
    assert SECRET not in message


def test_cluster_factory_ignores_the_environment_and_keeps_the_other_settings() -> None:
    environ = {"CASSANDRA_CONSISTENCY": "QUORUM", "CASSANDRA_CONTACT_POINTS": "10.0.0.1"}
    middleware = CassandraMiddleware(
        app, environ=environ, warmer="lazy", cluster_factory=unused_cluster_factory, keyspace="shop", warm_timeout=2
    )
    assert middleware.settings.keyspace == "shop"
    assert middleware.settings.warm_timeout == 2


def test_cluster_settings_are_exactly_what_builds_the_cluster() -> None:
    """``driver.CLUSTER_SETTINGS`` (what a cluster_factory replaces) lists every setting that building the
    Cluster reads, and nothing else: read the attributes that cluster_kwargs() and the TLS context touch."""
    from wsgi_cassandra.driver import CLUSTER_SETTINGS, cluster_kwargs

    read: set[str] = set()

    class Reading:
        def __init__(self, settings: Settings) -> None:
            self.settings = settings

        def __getattr__(self, name: str) -> Any:
            derived = getattr(Settings, name, None)
            if isinstance(derived, property):  # uses_tls: read what it reads, through us
                return derived.fget(self)  # type: ignore[misc]
            read.add(name)
            return getattr(self.settings, name)

    credentials = {"username": "app", "password": SECRET, "protocol_version": 5}
    cluster_kwargs(Reading(Settings.resolve(credentials, {})))  # type: ignore[arg-type]  # every TLS file unset
    cluster_kwargs(Reading(Settings.resolve({**credentials, "ssl": True}, {})))  # type: ignore[arg-type]
    names = {option.name for option in options()}
    # schema_metadata is applied by the connector to any Cluster (a user's too); uses_tls is derived.
    assert read & names - {"schema_metadata"} == set(CLUSTER_SETTINGS)


@pytest.mark.parametrize(
    ("environ", "kwargs", "named", "not_named"),
    [
        pytest.param(
            {"WSGI_CASSANDRA_METRICS_REQUESTS": "1"},
            {},
            "WSGI_CASSANDRA_METRICS_REQUESTS is set",
            "metrics_requests=",
            id="metrics-from-env",
        ),
        pytest.param(
            {}, {"metrics_requests": True}, "metrics_requests= is set", "METRICS_REQUESTS", id="metrics-argument"
        ),
        pytest.param({"CASSANDRA_SSL_KEY": "KEY"}, {}, "CASSANDRA_SSL_KEY is set", "ssl_key=", id="key-from-env"),
        pytest.param({}, {"ssl_key": "KEY"}, "ssl_key= is set", "CASSANDRA_SSL_KEY", id="key-argument"),
    ],
)
def test_a_setting_missing_its_partner_names_where_it_came_from(
    environ: dict[str, str], kwargs: dict[str, Any], named: str, not_named: str, tmp_path: Path
) -> None:
    key = tmp_path / "client.key"  # an existing file: only the missing certificate is wrong
    key.write_text("not read: the check comes first\n")
    environ = {name: str(key) if value == "KEY" else value for name, value in environ.items()}
    kwargs = {name: str(key) if value == "KEY" else value for name, value in kwargs.items()}
    with pytest.raises(ConfigurationError) as info:
        CassandraMiddleware(app, environ=environ, warmer="lazy", **kwargs)
    assert named in str(info.value)
    assert not_named not in str(info.value)
