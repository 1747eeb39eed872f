"""Passwords in URLs (``scheme://user:password@host``), found with the standard library's URL parser.

``urllib.parse.urlsplit`` splits a well-formed URL the way every client does: the authority ends at
the first ``/``, ``?`` or ``#``, the user info at the *last* ``@`` of the authority, and the password
starts after the first ``:`` of the user info. That handles an empty user (``redis://:pw@host``)
and an ``@`` inside the password (``u:p@ss@host``).

People also paste URLs whose password holds an unescaped ``/`` (``postgres://app:pa/ss@db/x``),
which a parser reads as a host ``app`` with port ``pa``. When the authority has no ``@`` but looks
like ``user:not-a-port`` and an ``@`` follows later in the same run of characters, the user info
is taken to end at that ``@``: over-redacting a strange URL is cheaper than leaking a password.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["URL_MARKER", "scrub_signed_urls", "scrub_url_credentials", "scrub_webhooks"]

URL_MARKER = "[REDACTED:url_password]"
WEBHOOK_MARKER = "[REDACTED:webhook]"
SIGNATURE_MARKER = "[REDACTED:secret]"

#: ``scheme://`` and the run of characters a URL in free text can span.
_URL_RUN_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^\s\"'<>`]+)")
_PORT_RE = re.compile(r"[0-9]*")
#: Slack (and similar) incoming-webhook URLs: the path is the credential.
_WEBHOOK_RE = re.compile(
    r"(https?://(?:hooks\.slack\.com|discord(?:app)?\.com/api/webhooks|[A-Za-z0-9.-]+\.webhook\.office\.com)/)"
    r"[^\s\"'<>`]+"
)

#: Query parameters that sign a URL (Azure SAS, AWS and Google pre-signed URLs): the value is the
#: credential, valid until the URL expires.
_SIGNATURE_RE = re.compile(
    r"([?&](?:sig|signature|x-amz-signature|x-amz-security-token|x-goog-signature|x-goog-credential)=)"
    r"[^&#\s\"'<>`]+",
    re.IGNORECASE,
)
_SIGNATURE_HINTS = ("sig=", "Sig=", "ignature=", "IGNATURE=", "ecurity-Token=", "oog-Credential=")


def _authority_end(run: str, start: int) -> int:
    """The index of the first ``/``, ``?`` or ``#`` at or after ``start`` (or the end of ``run``)."""
    end = len(run)
    for stop in "/?#":
        index = run.find(stop, start)
        if index != -1 and index < end:
            end = index
    return end


def _userinfo_end(scheme: str, run: str) -> int:
    """Where the user info of ``run`` (the text after ``scheme://``) ends, or -1 when it has none."""
    cut = _authority_end(run, 0)
    authority = run[:cut]
    at = authority.rfind("@")
    if at != -1:
        try:
            parsed = urlsplit(f"{scheme}://{authority}")
            if parsed.password is None:
                return -1
        except ValueError:  # e.g. an unbalanced IPv6 bracket: fall back to the raw ``@``
            pass
        return at
    # No ``@`` before the first ``/``: a password with a ``/`` in it, if what precedes the slash is
    # ``user:something`` where ``something`` is not a port, and an ``@`` follows in the same run.
    colon = authority.find(":")
    if colon == -1 or _PORT_RE.fullmatch(authority, colon + 1) is not None:
        return -1
    at = run.find("@", cut)
    if at == -1:
        return -1
    # The host after the password ends at the next "/", "?" or "#"; the user info at the last "@"
    # before that.
    return run.rfind("@", at, _authority_end(run, at))


def scrub_url_credentials(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` replaced."""
    pieces: list[str] = []
    last = 0
    search = _URL_RUN_RE.search
    match = search(text)
    while match is not None:
        run = match.group(2)
        start = match.start(2)
        end = _userinfo_end(match.group(1), run)
        colon = run.find(":", 0, end) if end > 0 else -1
        if colon != -1 and colon + 1 < end:  # a user name alone (``https://user@host``) is no secret
            pieces.append(text[last : start + colon + 1])
            pieces.append(URL_MARKER)
            last = start + end
        # Go on from inside this run: ``a://u:p@h,b://v:q@k`` is one run holding two URLs.
        match = search(text, max(last, start))
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def scrub_webhooks(text: str) -> str:
    """``text`` with the secret path of incoming-webhook URLs (Slack, Discord, Teams) replaced."""
    return _WEBHOOK_RE.sub(lambda match: match.group(1) + WEBHOOK_MARKER, text)


def scrub_signed_urls(text: str) -> str:
    """``text`` with the signature of pre-signed and SAS URLs replaced (``...&sig=[REDACTED:secret]``)."""
    if not any(hint in text for hint in _SIGNATURE_HINTS):
        return text
    return _SIGNATURE_RE.sub(lambda match: match.group(1) + SIGNATURE_MARKER, text)
