"""Anchors: seal heads kept off the host, so a key holder on the host cannot rewrite history.

A seal names the chain head (``seq`` and ``hash``) under an HMAC. The HMAC proves a seal was made
with the key, but whoever holds the key on the host (or can roll the whole directory back to an
older copy) can still cut the trail back to an older seal, or rewrite it and seal it again. An
anchor is a copy of each seal's head that has left the host when the seal was written: appended to
a file on another mount (``audit_anchor_path``), and/or emitted as an OTLP log event
``kaizen.audit.anchor`` through the audit forwarding. ``kaizen-otel audit verify --anchors PATH``
then requires every anchor to be in the trail with the same hash: a cut or rolled-back trail is
missing the newest anchors (``truncated``), a rewritten one has other hashes (``edited``).

:func:`read_anchors` reads the anchor file, or a directory of them, and also the JSON lines an OTel
Collector's ``file`` exporter writes for the ``kaizen.audit.anchor`` events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from kaizen_otel.audit.storage import Appended

__all__ = ["ANCHOR_EVENT", "AnchorFile", "anchor_attributes", "anchor_of", "read_anchors"]

#: ``event_name`` of the OTLP log event that carries an anchor.
ANCHOR_EVENT = "kaizen.audit.anchor"

_FIELDS = ("seq", "hash", "count", "reason", "timestamp", "key_id", "mac")
_ATTRIBUTE_PREFIX = "kaizen.audit.anchor."


def anchor_of(trail_path: str, seal: Appended) -> dict[str, Any]:
    """The anchor for a seal just made durable: the trail's file name and the seal's head."""
    anchor: dict[str, Any] = {"kind": "anchor", "trail": os.path.basename(trail_path)}
    for name in _FIELDS:
        anchor[name] = seal.record.get(name)
    return anchor


class AnchorFile:
    """Appends anchors as JSON lines to a file (meant to be on another mount or host), fsynced.

    Seals are rare (every ``audit_seal_records`` lines or ``audit_seal_seconds``), so each anchor
    opens, appends, syncs and closes the file: nothing stays open on a mount that may go away.
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(os.path.expanduser(path))

    def append(self, anchor: Mapping[str, Any]) -> None:
        """Write one anchor durably; raises ``OSError`` when it could not."""
        line = (json.dumps(anchor, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if os.write(fd, line) != len(line):
                raise OSError(f"short write to the anchor file {self.path!r}")
            os.fsync(fd)
        finally:
            os.close(fd)


def read_anchors(path: str, trail: str | None = None) -> list[tuple[int, str]]:
    """``(seq, hash)`` of every anchor in ``path`` (a file or a directory of files), oldest first.

    ``trail``: only anchors of the trail with this file name (anchors of several trails may share
    one file). Lines that are not anchors are skipped. Raises ``OSError`` when ``path`` cannot be
    read, ``ValueError`` when it holds no anchor at all (a wrong path must not verify as "no
    anchors, nothing to check").
    """
    name = os.path.basename(trail) if trail else None
    found: dict[int, str] = {}
    for anchor in _iter_anchors(path):
        if name is not None and anchor.get("trail") not in (None, name):
            continue
        seq, digest = anchor.get("seq"), anchor.get("hash")
        if isinstance(seq, int) and isinstance(digest, str):
            found[seq] = digest
    if not found:
        raise ValueError(f"no audit anchors{f' of {name}' if name else ''} in {path!r}")
    return sorted(found.items())


def _iter_anchors(path: str) -> Iterator[Mapping[str, Any]]:
    if os.path.isdir(path):
        for root, _, names in sorted(os.walk(path)):
            for file_name in sorted(names):
                yield from _anchors_in_file(os.path.join(root, file_name))
    else:
        yield from _anchors_in_file(path)


def _anchors_in_file(path: str) -> Iterator[Mapping[str, Any]]:
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict) and value.get("kind") == "anchor":
                yield value
            elif isinstance(value, dict) and "resourceLogs" in value:
                yield from _anchors_in_otlp(value)


def _anchors_in_otlp(document: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Anchors in one line of OTLP/JSON, as a Collector's ``file`` exporter writes it."""
    for resource_logs in document.get("resourceLogs") or ():
        for scope_logs in resource_logs.get("scopeLogs") or ():
            for record in scope_logs.get("logRecords") or ():
                if record.get("eventName") != ANCHOR_EVENT:
                    continue
                anchor: dict[str, Any] = {}
                for attribute in record.get("attributes") or ():
                    key = attribute.get("key", "")
                    if key.startswith(_ATTRIBUTE_PREFIX):
                        anchor[key[len(_ATTRIBUTE_PREFIX) :]] = _otlp_value(attribute.get("value") or {})
                if isinstance(anchor.get("seq"), str) and anchor["seq"].isdigit():
                    anchor["seq"] = int(anchor["seq"])
                yield anchor


def _otlp_value(value: Mapping[str, Any]) -> Any:
    if "intValue" in value:
        return int(value["intValue"])
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    return None


def anchor_attributes(anchor: Mapping[str, Any]) -> dict[str, Any]:
    """The anchor as OTLP log attributes (``kaizen.audit.anchor.seq`` …), None values left out."""
    return {
        _ATTRIBUTE_PREFIX + key: value for key, value in anchor.items() if value is not None and key != "kind"
    }
