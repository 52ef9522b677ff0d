from switchboard_devstack.ports import free_port, port_in_use


def test_free_ports_are_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)


def test_a_free_port_is_not_in_use() -> None:
    assert not port_in_use(free_port())
