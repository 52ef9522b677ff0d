from switchboard_devstack.ports import free_port


def test_free_ports_are_never_handed_out_twice() -> None:
    """Raw bind(0) probes repeat ports (8 in 500 here): without the guard this fails."""
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
