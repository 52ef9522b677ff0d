import subprocess
from pathlib import Path

from switchboard_localkube.pki import make_pki


def test_the_api_servers_certificate_names_every_address_clients_use(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    text = subprocess.run(
        ["openssl", "x509", "-in", str(pki["apiserver"]), "-noout", "-text"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for name in ("IP Address:127.0.0.1", "IP Address:10.96.0.1", "DNS:kubernetes.default.svc"):
        assert name in text
    subprocess.run(
        ["openssl", "verify", "-CAfile", str(pki["ca"]), str(pki["apiserver"]), str(pki["client"])],
        check=True, capture_output=True,
    )  # fmt: skip
    token = pki["token"].read_text()
    assert pki["tokens"].read_text().startswith(f'{token},admin,admin,"system:masters"')
