"""Check, before starting anything, that the dev stack's ports are free.

A Go server that cannot bind prints a long log and exits; checking first lets us say which
port is taken and which flag moves it, in one line.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from worker.prometheus import PortInUseError

__all__ = ["PortInUseError", "check_ports_free", "port_is_free"]


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on `host:port` (binding it like a server would succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port with only TIME_WAIT leftovers counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def check_ports_free(host: str, ports: Mapping[str, tuple[int, str]]) -> None:
    """Raise `PortInUseError` naming the first taken port: {purpose: (port, flag)}."""
    for purpose, (port, flag) in ports.items():
        if not port_is_free(host, port):
            msg = (
                f"port {port} ({purpose}) is already in use on {host}: stop whatever uses it "
                f"(another `civicflow dev`?) or choose another port with {flag}"
            )
            raise PortInUseError(msg)
