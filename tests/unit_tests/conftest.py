"""Unit tests run with network sockets off: they test pure code, and must not reach a server."""

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)  # the event loop's self-pipe is a unix socketpair
    yield
    enable_socket()
