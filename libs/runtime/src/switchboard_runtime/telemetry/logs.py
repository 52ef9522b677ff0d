"""Logging of a service process: JSON lines (or text for a terminal) with trace and span ids.

Secrets never reach the output: every formatted line passes ``redact``, which blanks token-like
query parameters (uvicorn prints WebSocket paths with their query string), bearer tokens, JWTs
and URL passwords. Message bodies are never logged by our code, and the loggers that would print
them (the websockets protocol's frame dumps at DEBUG) are held at INFO.
"""

import datetime
import json
import logging
import re
import sys
from typing import Any

from opentelemetry import trace
from pydantic import ValidationError

from switchboard_runtime.telemetry.metrics import LOG_MESSAGES
from switchboard_runtime.telemetry.settings import TelemetrySettings

__all__ = [
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "log_failure",
    "redact",
    "validation_summary",
]

REDACTED = "[REDACTED]"

_HIDDEN_PARAMS = (
    "access_token|token|id_token|refresh_token|jwt|password|passwd|pwd|secret|client_secret"
    "|api_key|apikey|key|auth|authorization|signature|sig|code"
)
_PATTERNS = (
    # ?token=... &password=... in URLs and paths (also URL-encoded &amp; forms)
    (re.compile(rf"(?i)([?&;](?:{_HIDDEN_PARAMS})=)[^&\s\"'#;\\]*"), rf"\1{REDACTED}"),
    # Authorization: Bearer ... / Basic ...
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # a JWT wherever it appears
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), REDACTED),
    # scheme://user:password@host
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)

# Loggers that print message contents or raw requests below these levels.
_FLOORS = {
    "uvicorn.error": logging.INFO,  # the websockets protocol logs frames here at DEBUG
    "websockets": logging.INFO,
    "uvicorn.access": logging.WARNING,  # ours is ``switchboard.access``, redacted
}

_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "trace_id", "span_id", "taskName", "color_message"}
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def validation_summary(err: ValidationError) -> str:
    """What was wrong, without the input values (they may be message bodies)."""
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or '<root>'}: {problem['type']}"
        for problem in err.errors(include_input=False, include_url=False)
    )


def log_failure(logger: logging.Logger, err: BaseException, message: str, *args: object) -> None:
    """Log an error with its traceback, but a validation error only by location and type."""
    if isinstance(err, ValidationError):
        logger.error(message + " (%s)", *args, validation_summary(err))
    else:
        logger.error(message, *args, exc_info=err)


class _TraceContext(logging.Filter):
    """Stamps the current span's ids on each record (empty outside a span)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        else:
            record.trace_id = record.span_id = ""
        return True


class _CountByLevel(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        LOG_MESSAGES.labels(self._service, record.levelname).inc()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service, trace and span ids,
    the exception, and whatever ``extra=`` the call passed."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "service": self._service,
        }
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            entry["trace_id"] = trace_id
            entry["span_id"] = getattr(record, "span_id", "")
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``time level logger: message`` and, inside a span, its trace id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            head, newline, tail = line.partition("\n")
            line = f"{head} trace_id={trace_id}{newline}{tail}"
        return redact(line)


def configure_logging(settings: TelemetrySettings, log_level: str, service: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TraceContext())
    handler.addFilter(_CountByLevel(service))
    handler.setFormatter(
        JsonFormatter(service) if settings.log_format == "json" else TextFormatter()
    )
    root = logging.getLogger()
    for existing in root.handlers[:]:
        root.removeHandler(existing)
    root.addHandler(handler)
    level = logging.getLevelNamesMapping()[log_level]
    root.setLevel(level)
    for name, floor in _FLOORS.items():
        logging.getLogger(name).setLevel(max(level, floor))
