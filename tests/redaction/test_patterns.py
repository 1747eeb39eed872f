"""The value patterns: every kind of secret in the corpus, Unicode-safe, URLs parsed, quoted values whole."""

from __future__ import annotations

import pytest

from kaizen_otel._internal.secret_text import aligned_lower
from kaizen_otel.redaction import Redactor
from tests.redaction.corpus import SECRETS, Secret, leaks

REDACTOR = Redactor()


@pytest.mark.parametrize("entry", SECRETS, ids=[f"{i}-{entry.kind}" for i, entry in enumerate(SECRETS)])
def test_every_secret_of_the_corpus_is_removed_from_text(entry: Secret) -> None:
    scrubbed = REDACTOR.redact_text(entry.text)
    assert leaks(entry.secret, scrubbed) == []
    assert "[REDACTED:" in scrubbed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("İzmir office: password=hunter2hunter2", "İzmir office: password=[REDACTED:secret]"),
        (
            "İzmir: Authorization: Bearer 9f8e7d6c5b4a39281706f5e4",
            "İzmir: Authorization: Bearer [REDACTED:bearer]",
        ),
        ("ﬁle ǅ İ <Password>hunter2</Password>", "ﬁle ǅ İ <Password>[REDACTED:secret]</Password>"),
        ("İİİ PASSWORD=Abc123456 İ", "İİİ PASSWORD=[REDACTED:secret] İ"),
    ],
)
def test_characters_that_grow_when_lower_cased_do_not_shift_or_skip_matching(
    text: str, expected: str
) -> None:
    assert REDACTOR.redact_text(text) == expected


def test_the_lower_cased_copy_keeps_every_position() -> None:
    for text in ("İzmir", "ﬁ ß ǅ", "plain", "MİXED Case İ"):
        lower = aligned_lower(text)
        assert len(lower) == len(text)
        assert all(a.lower() == b or a == b or not a.isascii() for a, b in zip(text, lower, strict=True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:s3cretpass@cache:6379/0", "redis://:[REDACTED:url_password]@cache:6379/0"),
        ("postgres://app:pa/ss@word@db:5432/x", "postgres://app:[REDACTED:url_password]@db:5432/x"),
        ("postgres://app:p@ss@db:5432/x", "postgres://app:[REDACTED:url_password]@db:5432/x"),
        ("postgres://app:pa/ss@db/x", "postgres://app:[REDACTED:url_password]@db/x"),
        ("a://u:p1@h,b://v:p2@k", "a://u:[REDACTED:url_password]@h,b://v:[REDACTED:url_password]@k"),
        ("https://user@example.com/x", "https://user@example.com/x"),
        ("https://example.com:8443/a@b", "https://example.com:8443/a@b"),
        ("http://[::1:80/x", "http://[::1:80/x"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc123&X-Amz-Security-Token=zz9&v=1",
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=[REDACTED:secret]"
            "&X-Amz-Security-Token=[REDACTED:secret]&v=1",
        ),
    ],
)
def test_url_credentials_are_found_with_empty_users_slashes_at_signs_and_signatures(
    text: str, expected: str
) -> None:
    assert REDACTOR.redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('password="correct horse battery staple"', 'password="[REDACTED:secret]"'),
        ("passphrase: 'four random words'", "passphrase: '[REDACTED:secret]'"),
        ('{"password": "two words"}', '{"password": "[REDACTED:secret]"}'),
        ('{\\"password\\": \\"two words\\"}', '{\\"password\\": \\"[REDACTED:secret]\\"}'),
        ("password => 'a b'", "password => '[REDACTED:secret]'"),
    ],
)
def test_a_quoted_passphrase_is_replaced_whole(text: str, expected: str) -> None:
    assert REDACTOR.redact_text(text) == expected


def test_a_truncated_private_key_block_is_removed_to_the_end() -> None:
    text = "key: -----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0abcdefgh\nXyZ0123456789"
    assert REDACTOR.redact_text(text) == "key: [REDACTED:private_key]"


def test_basic_auth_needs_credentials_that_decode_to_user_and_password() -> None:
    assert (
        REDACTOR.redact_text("Authorization: Basic dXNlcjpwYXNz")
        == "Authorization: Basic [REDACTED:basic_auth]"
    )
    assert REDACTOR.redact_text("the Basic understanding") == "the Basic understanding"


def test_a_bare_aws_secret_key_needs_mixed_case_and_digits() -> None:
    assert REDACTOR.redact_text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == "[REDACTED:aws_secret]"
    sha1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
    assert REDACTOR.redact_text(f"commit {sha1}") == f"commit {sha1}"


def test_markers_are_left_alone_so_scrubbing_twice_changes_nothing() -> None:
    for entry in SECRETS:
        once = REDACTOR.redact_text(entry.text)
        assert REDACTOR.redact_text(once) == once


IDENTIFIER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def _identifier_pieces() -> list[str]:
    """Identifier-shaped text near every kind: each corpus secret's own identifier runs, with
    model-API id prefixes and glue around them."""
    import re

    runs = {run for entry in SECRETS for run in re.findall(r"[A-Za-z0-9_-]+", entry.secret) if len(run) >= 4}
    pieces = set()
    for run in runs:
        pieces.update({run, f"chatcmpl-{run}", f"{run}-x", f"msg_{run}", f"id_{run}_aws", run * 2})
    pieces.update(
        {
            "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "msg_01XFDUDYJgAACzvnptvVoYEL",
            "4111-1111-1111-1111",
            "order-4111111111111111",
            "secret-wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEYaws",
            "aws_secret_" + "A1b2" * 70,
            "password",
            "token-",
        }
    )
    return sorted(pieces)


@pytest.mark.parametrize("text", _identifier_pieces())
def test_identifier_shaped_text_is_scrubbed_exactly_as_by_every_rule(text: str) -> None:
    from kaizen_otel._internal.secret_text import _IDENTIFIER_RE, TextScrubber

    scrubber = TextScrubber()
    assert _IDENTIFIER_RE.fullmatch(text) is not None
    assert scrubber.scrub(text) == scrubber._every_kind(text)


def test_generated_identifiers_are_scrubbed_exactly_as_by_every_rule() -> None:
    import random

    from kaizen_otel._internal.secret_text import TextScrubber

    scrubber = TextScrubber()
    rng = random.Random(14)
    prefixes = ["", "sk-", "sk-proj-", "AKIA", "ghp_", "xoxb-", "hf_", "4", "5", "34", "glpat-", "chatcmpl-"]
    for _ in range(3000):
        body = "".join(rng.choice(IDENTIFIER_CHARS) for _ in range(rng.randint(1, 90)))
        digits = "".join(rng.choice("0123456789-") for _ in range(rng.randint(0, 24)))
        text = rng.choice(prefixes) + rng.choice([body, digits + body, body + digits, digits])
        if text:
            assert scrubber.scrub(text) == scrubber._every_kind(text), text


def test_identifier_shaped_secrets_of_the_three_kinds_are_among_those_compared() -> None:
    scrubbed = [REDACTOR.redact_text(text) for text in _identifier_pieces()]
    for kind in ("api_key", "card", "aws_secret"):
        assert any(f"[REDACTED:{kind}]" in text for text in scrubbed), kind
