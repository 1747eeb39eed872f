"""Precision: ordinary values and key names survive; cards need issuer, length and Luhn."""

from __future__ import annotations

import pytest

from kaizen_otel._internal.secret_cards import card_number_ok
from kaizen_otel.redaction import MARKER, Redactor
from tests.redaction.corpus import ORDINARY_KEYS, ORDINARY_VALUES, luhn_complete

#: The false positives that remain, each explained in docs/redaction.md: random 16-19 digit ids
#: that happen to start like a card of that length and pass the Luhn check (~1 in 70 of them).
KNOWN_FALSE_POSITIVES = ["4958157155235601", "3538365571196924", "4496229233960725347"]


def test_the_false_positive_corpus_stays_under_one_percent_and_each_one_is_known() -> None:
    redactor = Redactor()
    values = [value for value in ORDINARY_VALUES if redactor.redact_text(value) != value]
    keys = [key for key in ORDINARY_KEYS if redactor.is_sensitive_key(key)]
    assert keys == []
    assert values == KNOWN_FALSE_POSITIVES
    assert (len(values) + len(keys)) / (len(ORDINARY_VALUES) + len(ORDINARY_KEYS)) < 0.01


@pytest.mark.parametrize(
    "key",
    [
        "password_min_length",
        "secret_arn",
        "api_key_id",
        "jwt_issuer",
        "authorization_url",
        "cookie_consent",
        "token_expires_at",
        "passage",
        "tokenizer",
    ],
)
def test_keys_naming_something_about_a_secret_are_not_sensitive(key: str) -> None:
    assert not Redactor().is_sensitive_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db.password",
        "x-api-key",
        "apiKey",
        "id_token",
        "client_secret",
        "webhook_url",
        "AccountKey",
    ],
)
def test_keys_naming_a_secret_are_sensitive(key: str) -> None:
    assert Redactor().is_sensitive_key(key)


def test_a_value_under_a_non_secret_suffix_is_still_scanned_for_secrets() -> None:
    scrubbed = Redactor().redact_mapping({"authorization_url": "https://svc:Tr0ub4dor3@auth.example/x"})
    assert scrubbed == {"authorization_url": "https://svc:[REDACTED:url_password]@auth.example/x"}


def test_the_extra_and_allow_settings_override_the_suffix_rules() -> None:
    redactor = Redactor(extra_keys=["api_key_id"], allow_keys=["password"])
    assert redactor.redact_mapping({"api_key_id": "k-1", "password": "shown"}) == {
        "api_key_id": MARKER,
        "password": "shown",
    }


def test_pwd_followed_by_a_path_is_the_working_directory() -> None:
    redactor = Redactor()
    assert redactor.redact_text("pwd: /home/agent/work") == "pwd: /home/agent/work"
    assert redactor.redact_text("Pwd=Correct8Horse;") == "Pwd=[REDACTED:secret];"


@pytest.mark.parametrize(
    ("prefix", "length", "is_card"),
    [
        ("4", 16, True),
        ("4", 13, True),
        ("4", 19, True),
        ("4", 17, False),  # Visa has no 17-digit numbers
        ("51", 16, True),
        ("51", 19, False),
        ("37", 15, True),
        ("37", 16, False),
        ("1", 16, False),  # no issuer starts with 1: Twitter and Discord snowflakes
        ("9", 16, False),
    ],
)
def test_a_card_needs_an_issuer_a_length_it_uses_and_the_luhn_check(
    prefix: str, length: int, is_card: bool
) -> None:
    number = luhn_complete(prefix, length)
    assert card_number_ok(number) is is_card
    broken = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not card_number_ok(broken)
