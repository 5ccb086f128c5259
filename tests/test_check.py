"""``python -m wsgi_cassandra check`` as a user runs it: a real subprocess, its exit status and its words."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.support.clients import free_port, refused_versions
from wsgi_cassandra.testing import CQLServer

if TYPE_CHECKING:
    from tests.support.target import Target

pytestmark = pytest.mark.integration


def run_check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgi_cassandra", "check", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_connects_and_reports_phases_cluster_and_advice(cassandra: Target, keyspace: str) -> None:
    result = run_check(cassandra.subprocess_env(CASSANDRA_KEYSPACE=keyspace))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"keyspace               {keyspace}" in out
    assert "CASSANDRA_KEYSPACE" in out
    assert "Warmer: auto -> fork + lazy" in out
    assert "Connected in " in out
    for phase in ("control_connection", "schema", "pools"):
        assert f"  {phase}" in out
    assert "protocol version" in out
    assert "release version" in out
    assert "data centres" in out
    if cassandra.server is not None:
        assert " keyspaces (1 user)" in out  # the test keyspace, with its one table
        assert "release version        4." in out
        assert "datacenter1 (1 host(s))" in out
        if refused_versions():  # cassandra-driver starts above what the server speaks (DSE's v66)...
            assert "negotiated down from" in out
            assert "set CASSANDRA_PROTOCOL_VERSION=5" in out  # ...so pinning is the advice
        else:  # scylla-driver starts at v5: nothing to pin
            assert "protocol version       5 (first try)" in out
            assert "CASSANDRA_PROTOCOL_VERSION" not in out.split("Advice:")[1]


def test_prints_the_effective_default_execution_profile(cassandra: Target) -> None:
    env = cassandra.subprocess_env(
        CASSANDRA_CONSISTENCY="local_quorum", CASSANDRA_SERIAL_CONSISTENCY="LOCAL_SERIAL", CASSANDRA_REQUEST_TIMEOUT="3"
    )
    result = run_check(env)

    assert result.returncode == 0, result.stderr
    out = result.stdout.split("Default execution profile", 1)[1]
    assert "consistency            LOCAL_QUORUM" in out
    assert "serial consistency     LOCAL_SERIAL" in out
    assert "request timeout        3 s" in out
    assert "row factory            named_tuple_factory" in out
    assert "load balancing         TokenAwarePolicy(DCAwareRoundRobinPolicy)" in out


def test_pinned_protocol_version_needs_no_advice(cassandra: Target) -> None:
    server = cassandra.embedded
    env = cassandra.subprocess_env(CASSANDRA_PROTOCOL_VERSION="5")

    result = run_check(env)

    assert result.returncode == 0, result.stderr
    assert "protocol version       5 (pinned)" in result.stdout
    advice = result.stdout.split("Advice:", 1)[1]
    # No advice about the protocol: whatever else it says depends on this machine's speed (a schema download
    # over 200 ms on a busy machine earns the fast-connect advice).
    assert "CASSANDRA_PROTOCOL_VERSION" not in advice
    assert advice.strip(), "the advice section lists something, or says there is nothing to change"
    assert server.running


def test_wrong_password_exits_1_and_never_shows_the_password() -> None:
    with CQLServer(credentials={"web": "right-secret"}) as server:
        env = {
            "PATH": "/usr/bin:/bin",
            "CASSANDRA_CONTACT_POINTS": server.host,
            "CASSANDRA_PORT": str(server.port),
            "CASSANDRA_USERNAME": "web",
            "CASSANDRA_PASSWORD": "wrong-secret",
        }
        failed = run_check(env)
        env["CASSANDRA_PASSWORD"] = "right-secret"
        succeeded = run_check(env)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "cannot connect: authentication failed" in failed.stderr
    assert "CASSANDRA_PASSWORD" in failed.stderr
    assert succeeded.returncode == 0, succeeded.stderr
    assert "******** (set)" in succeeded.stdout
    for result in (failed, succeeded):
        assert "secret" not in result.stdout + result.stderr


def test_unreachable_host_exits_1_naming_the_settings() -> None:
    env = {"PATH": "/usr/bin:/bin", "CASSANDRA_CONTACT_POINTS": "127.0.0.1", "CASSANDRA_PORT": str(free_port())}

    result = run_check(env)

    assert result.returncode == 1
    assert "cannot connect: no Cassandra host reachable" in result.stderr
    assert "check CASSANDRA_CONTACT_POINTS and CASSANDRA_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_keyspace_exits_1_naming_it(cassandra: Target) -> None:
    result = run_check(cassandra.subprocess_env(CASSANDRA_KEYSPACE="no_such_keyspace"))

    assert result.returncode == 1
    assert "keyspace 'no_such_keyspace' does not exist" in result.stderr
    assert "CASSANDRA_KEYSPACE" in result.stderr


def test_unknown_local_dc_exits_1_listing_the_real_ones(cassandra: Target) -> None:
    cassandra.embedded  # noqa: B018  (skips against a real cluster: its DC names are not known here)

    result = run_check(cassandra.subprocess_env(CASSANDRA_LOCAL_DC="dc-nowhere"))

    assert result.returncode == 1
    assert "CASSANDRA_LOCAL_DC=dc-nowhere names no data centre of this cluster" in result.stderr
    assert "accepted: datacenter1" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        pytest.param("CASSANDRA_PORT", "nine", "CASSANDRA_PORT = 'nine' is not valid", id="port"),
        pytest.param("WSGI_CASSANDRA_WARMER", "turbo", "WSGI_CASSANDRA_WARMER = 'turbo' is not valid", id="warmer"),
        pytest.param("CASSANDRA_USERNAME", "web", "CASSANDRA_USERNAME is set but no password", id="no-password"),
    ],
)
def test_bad_configuration_exits_2_naming_the_setting(variable: str, value: str, message: str) -> None:
    result = run_check({"PATH": "/usr/bin:/bin", variable: value})

    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: ")
    assert message in result.stderr
    assert "Connecting" not in result.stdout


def test_without_a_command_prints_usage_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wsgi_cassandra"], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 2
    assert "check" in result.stderr


def test_the_module_run_directly_is_the_check_command() -> None:
    command = [sys.executable, "-m", "wsgi_cassandra.check", "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: wsgi-cassandra check")
    assert result.stderr == ""  # no runpy warning either
