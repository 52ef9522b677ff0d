"""Each vocabulary is spelled in one place: close codes in ``switchboard_protocol``, subjects in
``switchboard_contracts.subjects``. These tests read the source (not run it) for literals that
escaped, and hold the browser client's constants to the Python vocabulary."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from switchboard_gateway.chat.frames import CLIENT_FRAME_TYPES
from switchboard_protocol import ClientFrameType, CloseCode, Reconnect, format_hint

ROOT = Path(__file__).parents[2]
BROWSER_CLIENT = ROOT / "services/gateway/src/switchboard_gateway/static/js/switchboard.js"
PROTOCOL_PACKAGE = ROOT / "libs/protocol/src/switchboard_protocol"
SUBJECTS_MODULE = ROOT / "libs/contracts/src/switchboard_contracts/subjects.py"

# 1000 is left out: it is also a thousand (milliseconds, default limits) all over the code.
UNAMBIGUOUS_CLOSE_CODES = {int(code) for code in CloseCode} - {1000}
SUBJECT_LIKE = re.compile(
    r"^(\$JS\.|\$KV\.|chat\.|notify\.|metrics\.report|logs\.record|dashboard\.|gateway\.socketio"
    r"|deadletter\.|ops\.)"
)


def source_files() -> Iterator[Path]:
    """Every module of the product (libraries, services, bench), tests left out."""
    for top in ("libs", "services", "bench"):
        for path in sorted((ROOT / top).glob("**/src/**/*.py")):
            if ".venv" not in path.parts:
                yield path


def constants(path: Path) -> Iterator[tuple[int, object]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant):
            yield node.lineno, node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant):
                yield node.lineno, first.value


def test_no_close_code_is_spelled_outside_the_protocol_vocabulary() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value}"
        for path in source_files()
        if PROTOCOL_PACKAGE not in path.parents
        for line, value in constants(path)
        if type(value) is int and value in UNAMBIGUOUS_CLOSE_CODES
    ]
    assert found == []


def test_no_close_is_called_with_a_bare_number() -> None:
    found = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "close"
                and any(
                    isinstance(arg, ast.Constant) and type(arg.value) is int for arg in node.args
                )
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_no_subject_is_spelled_outside_the_subjects_module() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in source_files()
        if path != SUBJECTS_MODULE
        for line, value in constants(path)
        if isinstance(value, str) and SUBJECT_LIKE.match(value) and " " not in value
    ]
    assert found == []


def _browser_close_table() -> dict[str, int]:
    table = re.search(
        r"export const CLOSE = Object\.freeze\(\{(.*?)\}\);", BROWSER_CLIENT.read_text(), re.S
    )
    assert table is not None, "the browser client's CLOSE table moved"
    return {name: int(code) for name, code in re.findall(r"(\w+): (\d+)", table.group(1))}


def test_the_browser_client_knows_every_close_code() -> None:
    assert set(_browser_close_table().values()) == {int(code) for code in CloseCode}


def test_the_browser_client_stops_exactly_where_the_vocabulary_says() -> None:
    source = BROWSER_CLIENT.read_text()
    plan = source.split("export function reconnectPlan", 1)[1]
    stopping = plan.split("return { reconnect: false };", 1)[0]
    names = re.findall(r"case CLOSE\.(\w+):", stopping)
    table = _browser_close_table()
    final_or_stop = {
        int(code) for code in CloseCode if code.final or code.reconnect is Reconnect.STOP
    }
    assert {table[name] for name in names} == final_or_stop


def test_the_browser_client_reads_the_hint_the_gateway_writes() -> None:
    pattern = re.search(r"const RECONNECT_HINT = /(.*)/;", BROWSER_CLIENT.read_text())
    assert pattern is not None
    found = re.search(pattern.group(1), format_hint(4321))
    assert found is not None
    assert found.group(1) == "4321"


def test_the_gateway_parses_every_client_frame_type() -> None:
    assert set(ClientFrameType) == CLIENT_FRAME_TYPES
