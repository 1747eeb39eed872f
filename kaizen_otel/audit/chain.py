"""Canonical JSON, the SHA-256 hash chain and the HMAC seals of the audit trail (stdlib only).

Every line of a trail is one JSON object: its body in *canonical* form (keys sorted, no
whitespace, ASCII only, so its text is a pure function of its content), then ``hash`` as the last
field. The body carries ``prev`` (the hash of the line before it); ``hash`` is SHA-256 over the
exact bytes of the body, so verification hashes what is on disk and never depends on how a
parser would re-serialise a value. Changing, removing or moving any line breaks a link. A plain
chain cannot tell a cut tail or a complete rewrite from the real thing, so seal lines also carry
``mac``: an HMAC-SHA256 under a secret key over the seal itself, which names the chain head
(``prev``) and the number of lines before it (``count``).
"""

from __future__ import annotations

import base64
import datetime as _dt
import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "GENESIS_PREV",
    "SEAL_REASONS",
    "PreparedBody",
    "canonical",
    "decode_line",
    "encode_line",
    "key_id",
    "line_hash",
    "prepare_body",
    "seal_mac",
    "seal_reason",
]

#: Version of the line format, written as ``v`` on every line.
FORMAT_VERSION = 1

#: The ``prev`` of the very first line of a trail.
GENESIS_PREV = "0" * 64

_KEY_ID_LABEL = b"kaizen_otel audit key id"

#: Why a seal was written. ``open``: right after the first line of a file, so even a young trail
#: carries a seal; ``periodic``: every ``audit_seal_records`` lines or ``audit_seal_seconds``;
#: ``rotation``: the last line of a rotated file; ``close``: the writer closed the trail, and a
#: closed trail ends with it; ``explicit``: ``AuditTrail.seal()``.
SEAL_REASONS = ("open", "periodic", "rotation", "close", "explicit")

# Names written by the first line format, read as their current meaning.
_LEGACY_REASONS = {"count": "periodic", "time": "periodic", "rotate": "rotation", "manual": "explicit"}


def seal_reason(seal: Mapping[str, Any]) -> str:
    """The reason a seal line gives (one of :data:`SEAL_REASONS`), or ``""`` when it names none."""
    reason = seal.get("reason")
    if not isinstance(reason, str):
        return ""
    reason = _LEGACY_REASONS.get(reason, reason)
    return reason if reason in SEAL_REASONS else ""


def _to_json(value: Any) -> Any:
    """Fallback for values JSON has no type for: a stable, readable text form."""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return sorted((_to_json(v) if not isinstance(v, (str, int, float)) else v for v in value), key=repr)
    return str(value)


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=_to_json
)
# The same encoding, as one reusable C encoder without the circular-reference bookkeeping that
# ``JSONEncoder.encode`` sets up on every call (a cycle ends in RecursionError instead). Used for
# the record lines of the hot path; falls back to ``_ENCODER`` where the C accelerator is missing.
_MAKE_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODER = (
    _MAKE_C_ENCODER(None, _to_json, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, False)
    if _MAKE_C_ENCODER is not None
    else None
)


def _encode_fast(obj: Any) -> str:
    if _C_ENCODER is None:
        return _ENCODER.encode(obj)
    return "".join(_C_ENCODER(obj, 0))


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces, ASCII), as bytes.

    Raises ``ValueError`` for NaN/infinity and ``TypeError`` for what JSON cannot hold, so a value
    that could not be read back never enters the chain.
    """
    return _ENCODER.encode(obj).encode("ascii")


def line_hash(body: bytes) -> str:
    """SHA-256 hex digest of a line's body: its text up to, not including, the ``hash`` field."""
    return hashlib.sha256(body).hexdigest()


_HASH_OPEN = b',"hash":"'
_SUFFIX_LEN = len(_HASH_OPEN) + 64 + 2  # ,"hash":"<64 hex>"}


def encode_line(record: dict[str, Any]) -> tuple[bytes, str]:
    """Serialise ``record`` (which already holds ``prev``) and append its hash as the last field.

    The hash covers the exact bytes of the canonical body, so a verifier hashes what is on disk
    without re-serialising it. Returns the line (newline included) and the hash; sets
    ``record["hash"]``.
    """
    body = canonical(record)
    digest = line_hash(body)
    record["hash"] = digest
    return body[:-1] + _HASH_OPEN + digest.encode("ascii") + b'"}\n', digest


class PreparedBody:
    """A record serialised once, ahead of the lock, waiting only for its place in the chain.

    Canonical JSON has its keys sorted, so ``prev`` and ``seq`` have fixed places among the
    record's items: the text around them can be made before the writer knows their values.
    :meth:`line` splices the two chain values in; the result is byte for byte what
    :func:`encode_line` writes for the same record.
    """

    __slots__ = ("_head", "_middle", "_tail")

    def __init__(self, head: str, middle: str, tail: str) -> None:
        self._head = head  # up to and including '"prev":'
        self._middle = middle  # from after the prev value up to and including '"seq":'
        self._tail = tail  # after the seq value, closing brace included

    def line(self, prev: str, seq: int) -> tuple[bytes, str]:
        """The full line (newline included) and its hash, for this ``prev`` and ``seq``."""
        body = f'{self._head}"{prev}"{self._middle}{seq}{self._tail}'.encode("ascii")
        digest = line_hash(body)
        return body[:-1] + _HASH_OPEN + digest.encode("ascii") + b'"}\n', digest


# Stand-ins for the chain values during the one serialisation pass; a record whose own text
# happens to contain them takes the slower three-pass path.
_PREV_MARK = "\x00kaizen prev\x00"
_SEQ_MARK = "\x00kaizen seq\x00"
_PREV_TEXT = '"prev":' + json.encoder.encode_basestring_ascii(_PREV_MARK)
_SEQ_TEXT = '"seq":' + json.encoder.encode_basestring_ascii(_SEQ_MARK)


def prepare_body(fields: Mapping[str, Any]) -> PreparedBody:
    """Serialise ``fields`` (string keys; no ``prev``, ``seq`` or ``hash``) for :class:`PreparedBody`.

    Raises ``ValueError``/``TypeError`` as :func:`canonical` does, and ``RecursionError`` for a
    value that contains itself.
    """
    if fields.keys() == _ENVELOPE:
        body = _prepare_envelope(fields)
        if body is not None:
            return body
    for key in fields:
        if not isinstance(key, str):
            raise TypeError(f"top-level keys must be strings, not {type(key).__name__}")
        if key in ("prev", "seq", "hash"):
            raise ValueError(f"{key!r} is set by the chain, not by the caller")
    text = _encode_fast({**fields, "prev": _PREV_MARK, "seq": _SEQ_MARK})
    if text.count(_PREV_TEXT) == 1 and text.count(_SEQ_TEXT) == 1:
        head, _, rest = text.partition(_PREV_TEXT)
        middle, _, tail = rest.partition(_SEQ_TEXT)
        return PreparedBody(head + '"prev":', middle + '"seq":', tail)
    return _prepare_in_runs(fields)


#: The fields of every ``record`` line, whichever path wrote it (``audit_fields`` plus ``v``/``kind``).
_ENVELOPE = frozenset(
    (
        "action",
        "agent_id",
        "details",
        "kind",
        "metadata",
        "result",
        "span_id",
        "time",
        "timestamp",
        "trace_id",
        "user_id",
        "v",
    )
)
_quote = getattr(json.encoder, "c_encode_basestring_ascii", None) or json.encoder.py_encode_basestring_ascii


def _prepare_envelope(fields: Mapping[str, Any]) -> PreparedBody | None:
    """The record envelope written field by field, in its sorted key order, without sorting anything.

    Only ``details`` and ``metadata`` go through the encoder (the same one, so the same text); the
    rest are strings, nulls and two integers. None when a field has another type (a ``str`` or
    ``int`` subclass included): the general path then encodes it.
    """
    timestamp, version = fields["timestamp"], fields["v"]
    action, agent_id, kind = fields["action"], fields["agent_id"], fields["kind"]
    result, time_text = fields["result"], fields["time"]
    span_id, trace_id, user_id = fields["span_id"], fields["trace_id"], fields["user_id"]
    if (
        timestamp.__class__ is not int
        or version.__class__ is not int
        or action.__class__ is not str
        or agent_id.__class__ is not str
        or kind.__class__ is not str
        or result.__class__ is not str
        or time_text.__class__ is not str
        or (span_id is not None and span_id.__class__ is not str)
        or (trace_id is not None and trace_id.__class__ is not str)
        or (user_id is not None and user_id.__class__ is not str)
    ):
        return None
    quote = _quote
    return PreparedBody(
        f'{{"action":{quote(action)},"agent_id":{quote(agent_id)},'
        f'"details":{_encode_fast(fields["details"])},"kind":{quote(kind)},'
        f'"metadata":{_encode_fast(fields["metadata"])},"prev":',
        f',"result":{quote(result)},"seq":',
        f',"span_id":{"null" if span_id is None else quote(span_id)},"time":{quote(time_text)},'
        f'"timestamp":{timestamp},"trace_id":{"null" if trace_id is None else quote(trace_id)},'
        f'"user_id":{"null" if user_id is None else quote(user_id)},"v":{version}}}',
    )


def _prepare_in_runs(fields: Mapping[str, Any]) -> PreparedBody:
    """The items before ``prev``, between ``prev`` and ``seq``, and after ``seq``, each encoded alone."""
    runs: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for key, value in fields.items():
        runs[0 if key < "prev" else 1 if key < "seq" else 2][key] = value
    before, between, after = (_encode_fast(run)[1:-1] if run else "" for run in runs)
    return PreparedBody(
        "{" + (before + "," if before else "") + '"prev":',
        "," + (between + "," if between else "") + '"seq":',
        ("," + after if after else "") + "}",
    )


def decode_line(line: bytes) -> tuple[dict[str, Any], bool]:
    """Parse one line; return the record and whether its ``hash`` matches the bytes before it.

    Raises ``ValueError`` when the line is not a JSON object.
    """
    record = json.loads(line)
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    text = line.rstrip(b"\n")
    claimed = record.get("hash")
    if (
        len(text) <= _SUFFIX_LEN
        or text[-_SUFFIX_LEN : -_SUFFIX_LEN + len(_HASH_OPEN)] != _HASH_OPEN
        or not text.endswith(b'"}')
        or not isinstance(claimed, str)
    ):
        return record, False
    body = text[:-_SUFFIX_LEN] + b"}"
    return record, hmac.compare_digest(line_hash(body), claimed)


def key_id(key: bytes) -> str:
    """A short public name for a key, so a verifier can tell "other key" from "forged seal"."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def seal_mac(key: bytes, seal: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over the canonical seal without ``mac`` and ``hash``.

    The seal names the chain head (``prev``), the number of lines before it (``count``), its own
    ``seq``, time and file index, so the MAC binds all of them.
    """
    body = {k: v for k, v in seal.items() if k not in ("mac", "hash")}
    return hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
