"""Value patterns: find secrets inside free text and replace only the secret, by a marker naming its kind.

Python's regex engine tries every alternative at every position, so one big alternation costs
~13 us on a 100-character clean string. Instead each kind has its own pattern, run only when a
cheap substring test (``"eyJ" in text``) says it could match: a clean string costs a few µs. Shape
checks a regex cannot express cheaply (card checksum, key formats, Basic credentials that decode
to ``user:password``) run only on candidates.

Case-insensitive kinds (``password=``, ``Bearer``, ``<Password>``) are found in a lower-cased copy
whose positions are then used in the original. That is only valid when lower-casing keeps every
character one character long, which ``str.lower`` does not promise (``"İ".lower()`` is two
characters): :func:`_aligned_lower` checks, and falls back to lower-casing ASCII letters only,
which cannot shift positions. The keywords are all ASCII, so nothing is lost.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

from kaizen_otel._internal.secret_cards import scrub_cards
from kaizen_otel._internal.secret_urls import scrub_signed_urls, scrub_url_credentials, scrub_webhooks
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["TextScrubber", "aligned_lower"]


class _LazyPattern:
    """A regular expression compiled on first use.

    Most value patterns run only after a cheap substring test finds a candidate, and compiling all
    of them (Python's regex compiler is written in Python) cost ~1 ms of every ``configure()``.
    The first string that needs one pays for it once.
    """

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    def get(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled


_PRIVATE_KEY_RE = _LazyPattern(
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
    r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\Z)"
)
_JWT_RE = _LazyPattern(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

# --- provider API keys ---------------------------------------------------------------------------
_API_KEY_TRIGGER_RE = re.compile(
    r"sk-|sk_|rk_|whsec_|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox|xapp-|AIza|hf_|ya29\.|GOCSPX-"
    r"|SG\.|pypi-"
)
_API_KEY_RE = _LazyPattern(
    r"(?:sk-|sk_live_|sk_test_|rk_live_|rk_test_|whsec_|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-"
    r"|xox[abprse]-|xapp-|AIza|hf_|ya29\.|GOCSPX-|pypi-)[A-Za-z0-9_-]+"
    r"|SG\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
)
#: The full shape of each key format, checked on candidates of ``_API_KEY_RE``.
_API_KEY_SHAPE_RE = _LazyPattern(
    r"sk-(?:proj|ant|svcacct|admin)-[A-Za-z0-9_-]{20,}"
    r"|sk-(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{20,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|whsec_[A-Za-z0-9]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20,}"
    r"|xox[abprse]-[A-Za-z0-9-]{10,}"
    r"|xapp-[0-9]+-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|ya29\.[0-9A-Za-z_-]{20,}"
    r"|GOCSPX-[0-9A-Za-z_-]{20,}"
    r"|pypi-AgE[A-Za-z0-9_-]{50,}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
)
#: A bare AWS secret access key: 40 characters of base64's alphabet, not glued to more of them.
_AWS_SECRET_RE = _LazyPattern(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
#: Strings longer than this are searched for bare AWS keys only when these words appear in them.
_AWS_SECRET_FREE_SCAN = 256
_AWS_CONTEXT = ("aws", "secret")

# --- case-insensitive kinds, matched in the lower-cased copy ------------------------------------------
_BEARER_RE = _LazyPattern(
    r"(bearer\s+)((?:(?=[a-z0-9\-._~+/]*[0-9])[a-z0-9\-._~+/]{12,}|[a-z0-9\-._~+/]{20,})=*)"
)
_BASIC_RE = _LazyPattern(r"(basic\s+)([a-z0-9+/]{6,}={0,2})(?![a-z0-9+/=])")

_KV_KEYS = (
    r"password|passwd|passphrase|pass|pwd|client[_-]?secret|secret[_-]?key|secret"
    r"|api[_-]?key|apikey|access[_-]?key|private[_-]?key|account[_-]?key|sharedaccesskey"
    r"|(?:access|refresh|auth|id|session|bearer|csrf|api)[_-]?token|token|set-cookie|cookie"
)
#: ``password=...``, ``"api_key": "..."``, ``token: ...``, ``password="two words"`` in free text.
_SECRET_KV_RE = _LazyPattern(
    rf"({_KV_KEYS})(?:\\?[\"'])?[ \t]*(=>|[:=])[ \t]*"
    r"(?:(\\?[\"'])([^\n]*?)\3|([^\s&\"',;}<>\\]+))"
)
#: ``<password>...</password>``, ``<db:Password type="x">...</``.
_SECRET_XML_RE = _LazyPattern(rf"<(?:[a-z0-9_.-]+:)?({_KV_KEYS})(?:\s[^<>]*)?>([^<]+)</")
#: Every key of ``_SECRET_KV_RE`` contains one of these, at most ``_KV_LOOKBACK`` characters in.
_KV_TRIGGERS = ("pass", "pwd", "secret", "key", "token", "cookie")
_KV_LOOKBACK = 12
#: Credentials on a command line an agent ran: ``--password value`` (the ``=`` form is a key=value
#: pair) and ``curl -u user:password`` / ``--user user:password``.
_COMMAND_LINE_RE = _LazyPattern(
    r"(?<!\S)(?:--(?:password|passwd|pass|token|api-key|apikey|secret|client-secret|auth-token"
    r"|access-token)[ \t]+|(?:-u|--user)[ \t]+[^\s:\"']+:)([^\s\"']+)"
)
_EMAIL_RE = _LazyPattern(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
#: Identifier-shaped text: letters, digits, ``_`` and ``-`` only, like the response ids a model
#: API returns (``chatcmpl-B9MBs8Cjc...``, ``msg_01XFDU...``), a new string on every call. No
#: space, ``.``, ``:``, ``=``, ``/``, ``@`` or ``<`` rules out every kind but three: API keys (their
#: formats are this shape), card numbers (digits and dashes) and bare AWS secrets (a 40-character
#: run). See ``TextScrubber._identifier``.
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9_-]+")
#: A run of digits and dashes long enough to hold a card number (what ``scrub_cards`` looks for,
#: spaces aside: an identifier has none).
_CARD_RUN_RE = re.compile(r"[0-9][0-9-]{11,}[0-9]")
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
#: No built-in pattern matches a shorter string ("pwd=x").
_SHORTEST_SECRET = 5


def aligned_lower(text: str) -> str:
    """``text`` lower-cased with every character at the same position (see the module docstring)."""
    lower = text.lower()
    if len(lower) == len(text):  # no character grew, so none moved
        return lower
    return text.translate(_ASCII_LOWER)


def _isolated(text: str, start: int, end: int, extra: str = "") -> bool:
    """Whether text[start:end] is not glued to neighbouring word characters (or ``extra``)."""
    if start and (text[start - 1] in _WORDISH or text[start - 1] in extra):
        return False
    return not (end < len(text) and (text[end] in _WORDISH or text[end] in extra))


def _replace_api_key(match: re.Match[str]) -> str:
    text = match.string
    start, end = match.span()
    if not _isolated(text, start, end, "-") or _API_KEY_SHAPE_RE.get().fullmatch(match.group(0)) is None:
        return match.group(0)
    return "[REDACTED:api_key]"


def _replace_aws_secret(match: re.Match[str]) -> str:
    candidate = match.group(0)
    has_upper = has_lower = has_digit = False
    for char in candidate:
        if char.isupper():
            has_upper = True
        elif char.islower():
            has_lower = True
        elif char.isdigit():
            has_digit = True
    if has_upper and has_lower and has_digit:
        return "[REDACTED:aws_secret]"
    return candidate  # lower-case hex (a SHA-1) or a word-like run: not a key


def _splice(text: str, marked: dict[int, tuple[int, str]]) -> str:
    """``text`` with each ``start -> (end, marker)`` span replaced; overlapping spans merge."""
    pieces: list[str] = []
    last = 0
    for start in sorted(marked):
        end, marker = marked[start]
        if start < last:  # overlaps the previous span: its marker covers this one too
            last = max(last, end)
            continue
        pieces.append(text[last:start])
        pieces.append(marker)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


_Spans = dict[int, tuple[int, str]]
_BEARER = "[REDACTED:bearer]"
_BASIC = "[REDACTED:basic_auth]"
_SECRET = "[REDACTED:secret]"


def _bearer_spans(text: str, lower: str, spans: _Spans) -> None:
    for match in _BEARER_RE.get().finditer(lower):
        if match.start() and lower[match.start() - 1].isalnum():
            continue
        start, end = match.span(2)
        spans[start] = (end, _BEARER)


def _basic_spans(text: str, lower: str, spans: _Spans) -> None:
    """``Basic <base64>`` whose value decodes to ``user:password`` (so "basic questions" survives)."""
    for match in _BASIC_RE.get().finditer(lower):
        if match.start() and lower[match.start() - 1].isalnum():
            continue
        start, end = match.span(2)
        encoded = text[start:end]
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if b":" in decoded:
            spans.setdefault(start, (end, _BASIC))


def _kv_spans(text: str, lower: str, spans: _Spans) -> None:
    """The value spans of ``password=...``-style pairs in free text.

    Running the pattern over the whole string costs ~25 us per KB (an alternation tried at every
    position); instead the trigger words are found with ``str.find`` and the pattern is tried only
    at the few word starts just before each one.
    """
    for trigger in _KV_TRIGGERS:
        hit = lower.find(trigger)
        while hit != -1:
            _kv_at(text, lower, hit, spans)
            hit = lower.find(trigger, hit + len(trigger))


def _word_start(text: str, lower: str, index: int) -> bool:
    """Whether a key may start at ``index``: after a non-alphanumeric, or at a camelCase hump."""
    if not index:
        return True
    before = lower[index - 1]
    return not before.isalnum() or (text[index].isupper() and text[index - 1].islower())


def _kv_at(text: str, lower: str, hit: int, spans: _Spans) -> None:
    """Record the value span of a key=value pair whose key contains position ``hit``, if any."""
    pattern = _SECRET_KV_RE.get()
    for start in range(max(0, hit - _KV_LOOKBACK), hit + 1):
        if not _word_start(text, lower, start):
            continue
        match = pattern.match(lower, start)
        if match is None or not match.start(1) <= hit < match.end(1):
            continue
        group = 4 if match.group(3) is not None else 5
        value_start, value_end = match.span(group)
        if _kv_value_is_secret(match.group(1), match.group(2), lower[value_start:value_end]):
            spans.setdefault(value_start, (value_end, _SECRET))
        return


def _kv_value_is_secret(key: str, separator: str, value: str) -> bool:
    if not value or value.startswith(("[redacted", "***")):
        return False
    if "token" in key and value.isdigit():
        return False  # "max_token=100" is a count, not a token
    if key == "pwd" and (value[0] in "/~." or value[1:3] == ":\\"):
        return False  # "pwd: /home/agent" is the working directory
    return not (key == "pass" and separator != "=")  # "tests pass: all" is prose; PASS=x is not


def _command_line_spans(lower: str, spans: _Spans) -> None:
    for match in _COMMAND_LINE_RE.get().finditer(lower):
        start, end = match.span(1)
        if not lower.startswith("[redacted", start):
            spans.setdefault(start, (end, _SECRET))


def _xml_spans(lower: str, spans: _Spans) -> None:
    for match in _SECRET_XML_RE.get().finditer(lower):
        start, end = match.span(2)
        if lower[start:end].strip():
            spans.setdefault(start, (end, _SECRET))


class TextScrubber:
    """The built-in value patterns plus the user's, compiled once.

    Args:
        redact_emails: also scrub e-mail addresses.
        extra_patterns: more regular expressions; the whole match becomes ``[REDACTED:custom]``,
            or only the group named ``secret`` when the pattern has one.
    """

    def __init__(self, *, redact_emails: bool = False, extra_patterns: Iterable[str] = ()) -> None:
        self._redact_emails = redact_emails
        self._extra = tuple(self._compile_extra(pattern) for pattern in extra_patterns)

    @staticmethod
    def _compile_extra(pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise KaizenConfigError(
                "redaction_extra_patterns", pattern, f"a valid regular expression ({exc})"
            ) from exc

    def scrub(self, text: str) -> str:
        """``text`` with every secret the patterns find replaced by a marker."""
        if len(text) >= _SHORTEST_SECRET:
            text = self._builtin(text)
        for pattern in self._extra:
            if pattern.search(text) is not None:
                text = pattern.sub(_replace_extra, text)
        return text

    def _builtin(self, text: str) -> str:
        if _IDENTIFIER_RE.fullmatch(text) is not None:
            return _identifier(text)
        return self._every_kind(text)

    def _every_kind(self, text: str) -> str:
        # Most specific first, so a JWT inside "Bearer ..." is reported as a JWT.
        if "PRIVATE KEY" in text:
            text = _PRIVATE_KEY_RE.get().sub("[REDACTED:private_key]", text)
        if "eyJ" in text:
            text = _JWT_RE.get().sub("[REDACTED:jwt]", text)
        if "://" in text:
            text = scrub_signed_urls(scrub_url_credentials(text))
            if "webhook" in text or "hooks." in text:
                text = scrub_webhooks(text)
        if _API_KEY_TRIGGER_RE.search(text) is not None:
            text = _API_KEY_RE.get().sub(_replace_api_key, text)
        lower = aligned_lower(text)
        text = self._case_insensitive(text, lower)
        if len(text) >= 13:
            text = scrub_cards(text)
        if len(text) >= 40 and (len(text) <= _AWS_SECRET_FREE_SCAN or _has_aws_context(lower)):
            text = _AWS_SECRET_RE.get().sub(_replace_aws_secret, text)
        if self._redact_emails and "@" in text:
            text = _EMAIL_RE.get().sub("[REDACTED:email]", text)
        return text

    @staticmethod
    def _case_insensitive(text: str, lower: str) -> str:
        """Bearer and Basic credentials, ``key=value`` pairs and XML elements, found in ``lower``."""
        spans: _Spans = {}
        if "bearer" in lower:
            _bearer_spans(text, lower, spans)
        if "basic" in lower:
            _basic_spans(text, lower, spans)
        _kv_spans(text, lower, spans)
        if "</" in lower:
            _xml_spans(lower, spans)
        if "--" in lower or "-u " in lower:
            _command_line_spans(lower, spans)
        return _splice(text, spans) if spans else text


def _identifier(text: str) -> str:
    """``_every_kind`` for identifier-shaped text (see ``_IDENTIFIER_RE``), with the same result.

    The other kinds need a character such text does not have: private keys a space, JWTs two dots,
    URL credentials and signed URLs ``://``, Bearer and Basic credentials whitespace after the
    word, ``key=value`` pairs a ``:`` or ``=``, XML elements ``<``, command-line flags whitespace,
    e-mail addresses ``@``. So only the three kinds that can be written with letters, digits,
    ``_`` and ``-`` are looked for, in ``_every_kind``'s order. A replaced API key leaves
    ``[REDACTED:api_key]``, in which none of the others can match either.
    """
    if _API_KEY_TRIGGER_RE.search(text) is not None:
        text = _API_KEY_RE.get().sub(_replace_api_key, text)
    if len(text) >= 13 and _CARD_RUN_RE.search(text) is not None:
        text = scrub_cards(text)
    if len(text) >= 40 and (len(text) <= _AWS_SECRET_FREE_SCAN or _has_aws_context(aligned_lower(text))):
        text = _AWS_SECRET_RE.get().sub(_replace_aws_secret, text)
    return text


def _has_aws_context(lower: str) -> bool:
    return any(word in lower for word in _AWS_CONTEXT)


def _replace_extra(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start(0)
        text = match.group(0)
        return text[: start - whole_start] + "[REDACTED:custom]" + text[end - whole_start :]
    return "[REDACTED:custom]"
