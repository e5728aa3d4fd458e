"""Tests reach nothing but this machine (pytest-socket, configured in pyproject.toml)."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


def test_a_connection_to_an_address_outside_this_machine_is_refused():
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never a real host, so only the guard can answer
    # (the guard also warns, which the suite's warnings-as-errors turns into a failure)
    with pytest.raises(SocketConnectBlockedError), pytest.warns(UserWarning, match="192.0.2.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)


def test_a_server_on_loopback_is_still_reachable():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1) as client:
            peer, _ = server.accept()
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
            peer.close()
