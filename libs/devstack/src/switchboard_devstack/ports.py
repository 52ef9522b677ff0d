"""Free TCP ports on the loopback interface."""

import socket

__all__ = ["free_port", "port_in_use"]


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, and never one this process handed out before: the kernel
    may give two probes in a row the same port, and two services of one stack then race for it
    (one fails to bind, while the other answers its readiness check in its place)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
