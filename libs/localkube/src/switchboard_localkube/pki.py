"""The cluster's certificates and tokens, made with openssl for one run and deleted with it."""

import secrets
import subprocess
from pathlib import Path

__all__ = ["make_pki"]

_SAN = (
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,"
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"
)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _signed(folder: Path, name: str, subject: str, extension: str | None) -> tuple[Path, Path]:
    key, csr, crt = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.crt"
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    ext = ["-extfile", str(folder / f"{name}.ext")] if extension else []
    if extension:
        (folder / f"{name}.ext").write_text(extension + "\n", encoding="ascii")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(folder / "ca.crt"),
        "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(crt), *ext,
    )  # fmt: skip
    return crt, key


def make_pki(folder: Path) -> dict[str, Path]:
    """A CA, the API server's serving certificate, a client certificate for kubelet calls,
    the service-account key pair and a static admin token (group system:masters)."""
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    _openssl("genrsa", "-out", str(folder / "ca.key"), "2048")
    _openssl(
        "req", "-x509", "-new", "-key", str(folder / "ca.key"), "-days", "2",
        "-subj", "/CN=switchboard-localkube-ca", "-out", str(folder / "ca.crt"),
    )  # fmt: skip
    apiserver, apiserver_key = _signed(folder, "apiserver", "/CN=kube-apiserver", _SAN)
    client, client_key = _signed(
        folder, "client", "/O=system:masters/CN=kube-apiserver-kubelet-client", None
    )
    _openssl("genrsa", "-out", str(folder / "sa.key"), "2048")
    _openssl("rsa", "-in", str(folder / "sa.key"), "-pubout", "-out", str(folder / "sa.pub"))
    token = secrets.token_hex(24)
    (folder / "token").write_text(token, encoding="ascii")
    (folder / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n', encoding="ascii")
    return {
        "ca": folder / "ca.crt",
        "apiserver": apiserver,
        "apiserver_key": apiserver_key,
        "client": client,
        "client_key": client_key,
        "sa_key": folder / "sa.key",
        "sa_pub": folder / "sa.pub",
        "token": folder / "token",
        "tokens": folder / "tokens.csv",
    }
