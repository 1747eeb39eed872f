"""The secrets corpus: realistic secrets of every kind, each inside the text it usually travels in.

Each entry is ``(kind, text, secret)``: ``text`` is what an application would log or attach,
``secret`` the part that must not survive anywhere. The values are made up, but shaped like the
real thing (length, alphabet, prefix, checksum for cards). Also the false-positive corpus: ordinary
values and key names that must come through untouched.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any, NamedTuple


class Secret(NamedTuple):
    kind: str
    text: str
    secret: str


_RNG = random.Random(8)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _chars(count: int, alphabet: str = _ALNUM) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(count))


def _mixed(count: int, alphabet: str = _ALNUM) -> str:
    """Random characters with at least one upper-case letter, one lower-case letter and one digit."""
    while True:
        value = _chars(count, alphabet)
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def luhn_complete(prefix: str, length: int) -> str:
    """A card number starting with ``prefix``, ``length`` digits long, with a valid Luhn digit."""
    body = prefix + "".join(_RNG.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        candidate = body + check
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _grouped(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at : at + size])
        at += size
    return sep.join(parts)


def _jwt() -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = json.dumps({"sub": _chars(10), "name": "Jane Roe", "iat": 1729766400}).encode()
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    return f"{header}.{payload}.{_chars(43, _ALNUM + '-_')}"


def _pem(label: str) -> tuple[str, str]:
    body = "\n".join(_chars(64, _ALNUM + "+/") for _ in range(4))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----", body


def _build() -> list[Secret]:
    s: list[Secret] = []

    def add(kind: str, template: str, secret: str, prefix: str = "") -> None:
        """``prefix`` (``sk-proj-``) is public: only what follows it must vanish."""
        s.append(Secret(kind, template.format(prefix + secret), secret))

    # --- provider API keys ---------------------------------------------------------------------
    add("openai", "OPENAI key {} loaded", _mixed(48, _ALNUM + "-_"), prefix="sk-proj-")
    add("openai", "using sk key: {}", _mixed(48), prefix="sk-")
    add("openai", "svc {}", _mixed(40, _ALNUM + "-_"), prefix="sk-svcacct-")
    add("openai", "admin={} ", _mixed(40), prefix="sk-admin-")
    add("anthropic", "x-api-key {}", _mixed(80, _ALNUM + "-_"), prefix="sk-ant-api03-")
    add("anthropic", "admin key {} rotated", _mixed(60), prefix="sk-ant-admin01-")
    add("stripe", "charge failed with {}", _mixed(24), prefix="sk_live_")
    add("stripe", "test mode {}", _mixed(24), prefix="sk_test_")
    add("stripe", "restricted {}", _mixed(24), prefix="rk_live_")
    add("stripe", "webhook signing secret {}", _mixed(32), prefix="whsec_")
    add("aws", "AWS_ACCESS_KEY_ID {} set", _chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), prefix="AKIA")
    add("aws", "sts session {}", _chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), prefix="ASIA")
    add("aws", "aws secret {}", _mixed(40, _ALNUM + "/+"))
    add("aws", "{}", _mixed(40, _ALNUM + "/+"))
    add("github", "cloning with {}", _mixed(36), prefix="ghp_")
    add("github", "oauth {}", _mixed(36), prefix="gho_")
    add("github", "app token {}", _mixed(36), prefix="ghs_")
    add("github", "fine-grained {}", _mixed(22) + "_" + _mixed(59), prefix="github_pat_")
    add("gitlab", "GITLAB_TOKEN is {}", _mixed(20, _ALNUM + "-_"), prefix="glpat-")
    add("slack", "bot {} posting", _chars(12, "0123456789") + "-" + _mixed(24), prefix="xoxb-")
    add("slack", "user {}", _chars(12, "0123456789") + "-" + _mixed(32), prefix="xoxp-")
    add(
        "slack",
        "socket mode {}",
        "xapp-1-A"
        + _chars(10, "0123456789")
        + "-"
        + _chars(13, "0123456789")
        + "-"
        + _chars(64, "abcdef0123456789"),
    )
    add(
        "slack",
        "post to https://hooks.slack.com/services/{}",
        "T"
        + _chars(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + "/B"
        + _chars(8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        + "/"
        + _mixed(24),
    )
    add("google", "maps key {}", _mixed(35, _ALNUM + "-_"), prefix="AIza")
    add("google", "oauth access {}", _mixed(120, _ALNUM + "-_"), prefix="ya29.")
    add("google", "client secret {}", _mixed(28, _ALNUM + "-_"), prefix="GOCSPX-")
    add("huggingface", "HF_TOKEN={}", _mixed(34), prefix="hf_")
    add("huggingface", "downloading with {}", _mixed(34), prefix="hf_")
    add("sendgrid", "mail via {}", _mixed(22, _ALNUM + "-_") + "." + _mixed(43, _ALNUM + "-_"), prefix="SG.")
    add("pypi", "twine upload -p {}", _mixed(120, _ALNUM + "-_"), prefix="pypi-AgEIcHlwaS5vcmc")
    # --- tokens and headers ----------------------------------------------------------------------
    add("jwt", "session {}", _jwt())
    add("jwt", "Authorization: Bearer {}", _jwt())
    add("bearer", "Authorization: Bearer {}", _mixed(40, _ALNUM + "-._~"))
    add("bearer", "headers={{'authorization': 'bearer {}'}}", _mixed(32))
    add("bearer", "İstanbul proxy sent Bearer {} upstream", _mixed(36))
    add("basic", "Authorization: Basic {}", base64.b64encode(f"svc:{_mixed(16)}".encode()).decode())
    add(
        "basic",
        "curl -H 'Authorization: basic {}'",
        base64.b64encode(f"admin:{_mixed(20)}".encode()).decode(),
    )
    # --- URLs ---------------------------------------------------------------------------------
    add("url", "connect failed: postgres://app:{}@db.internal:5432/prod", _mixed(14))
    add("url", "REDIS_URL=redis://:{}@cache:6379/0", _mixed(18))
    add("url", "mongodb+srv://admin:{}@cluster0.example.net/db", _mixed(16))
    add("url", "amqp://guest:{}@rabbit/", _mixed(12))
    add("url", "dsn postgres://app:{}@db:5432/x", _mixed(6) + "/" + _mixed(8))
    add("url", "dsn mysql://root:{}@db/x", _mixed(6) + "@" + _mixed(8))
    add("url", "git clone https://x-access-token:{}@github.example.com/o/r.git", _mixed(30))
    add("url", "İzmir replica: postgresql://rep:{}@10.0.0.7/app", _mixed(15))
    # --- key=value in text -----------------------------------------------------------------------
    add("password", "login with password={} now", _mixed(14))
    add("password", "İzmir office: password={} (temporary)", _mixed(12))
    add("password", "PASS={} ./deploy.sh", _mixed(12))
    add("password", 'config: {{"password": "{}"}}', _mixed(16))
    add("password", "password: {}\nuser: app", _mixed(16))
    add("password", "db_password={}", _mixed(14))
    add("password", "dbPassword={};", _mixed(14))
    add("password", "<datasource><password>{}</password></datasource>", _mixed(16))
    add("password", "<Password>{}</Password>", _mixed(16))
    add("passphrase", 'passphrase="{}"', "correct horse battery staple " + _mixed(6))
    add("passphrase", "password = '{}'", "four random words " + _mixed(6))
    add("password", "Server=db;Uid=app;Pwd={};", _mixed(14))
    add(
        "azure",
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={};EndpointSuffix=core.windows.net",
        _mixed(86, _ALNUM + "+/") + "==",
    )
    add(
        "azure",
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={}",
        _mixed(43, _ALNUM + "+/") + "=",
    )
    add("secret", "api_key={}&q=1", _mixed(24))
    add("secret", "client_secret: {}", _mixed(30))
    add("secret", "access_token={}", _mixed(30))
    add("secret", "refresh_token: '{}'", _mixed(30))
    add("secret", "token={} user=bob", _mixed(20))
    add("secret", "secret: {}", _mixed(20))
    add("secret", 'escaped json {{\\"api_key\\": \\"{}\\"}}', _mixed(24))
    add("env", "DATABASE_PASSWORD={}", _mixed(18))
    add("env", "export AWS_SECRET_ACCESS_KEY={}", _mixed(40, _ALNUM + "/+"))
    add("env", "STRIPE_SECRET_KEY={}", _mixed(24), prefix="sk_live_")
    add("env", "OPENAI_API_KEY='{}'", _mixed(48, _ALNUM + "-_"), prefix="sk-proj-")
    add("yaml", "database:\n  host: db\n  password: {}\n", _mixed(16))
    add("yaml", "secret_key: {}", _mixed(50))
    add("header", "Cookie: session={}; theme=dark", _mixed(32))
    add("header", "Set-Cookie: sid={}; HttpOnly", _mixed(32))
    add("header", "X-Api-Key: {}", _mixed(32))
    add("header", "Proxy-Authorization: Basic {}", base64.b64encode(f"proxy:{_mixed(14)}".encode()).decode())
    add("json", '{{"client_id": "app", "client_secret": "{}"}}', _mixed(40))
    add("json", '{{"refresh_token":"{}","expires_in":3600}}', _mixed(40))
    add("json", "{{'password': '{}', 'user': 'svc'}}", _mixed(14))
    add("url", "webhook https://discord.com/api/webhooks/{}", _chars(18, "0123456789") + "/" + _mixed(68))
    add("url", "sas https://acct.blob.core.windows.net/c?sv=2022&sig={}&se=2030", _mixed(43, _ALNUM + "%"))
    add("url", "ftp://deploy:{}@files.example.org/upload", _mixed(12))
    add("url", "smtp://mailer:{}@smtp.example.org:587", _mixed(12))
    add("unicode", "Straße İstanbul — api_key={} — café", _mixed(20))
    add("unicode", "ﬁle İ upload token: {}", _mixed(24))
    add("log", "retrying with access_token={} (attempt 2)", _mixed(36))
    add("log", "auth ok user=bob pwd={}", _mixed(10))
    add("command", "ran: mysql --host db --password {} -e 'select 1'", _mixed(14))
    add("command", "ran: curl -sS -u deploy:{} https://api.example.com/v1", _mixed(16))
    add("command", "exec: vault login --token {}", _mixed(26))
    gcp_pem, gcp_body = _pem("PRIVATE KEY")
    escaped = gcp_pem.replace("\n", "\\n")
    s.append(Secret("private_key", f'{{"type": "service_account", "private_key": "{escaped}\\n"}}', gcp_body))
    # --- private keys ----------------------------------------------------------------------------
    for label in (
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
    ):
        pem, body = _pem(label)
        s.append(Secret("private_key", f"key file:\n{pem}\n", body))
    # --- cards ----------------------------------------------------------------------------------
    visa = luhn_complete("4", 16)
    s.append(Secret("card", f"paid with {_grouped(visa, (4, 4, 4, 4), ' ')} today", visa))
    mastercard = luhn_complete("53", 16)
    s.append(Secret("card", f"card {_grouped(mastercard, (4, 4, 4, 4), '-')} on file", mastercard))
    amex = luhn_complete("37", 15)
    s.append(Secret("card", f"amex {_grouped(amex, (4, 6, 5), ' ')}", amex))
    for template, number in (
        ("pan={}", luhn_complete("4", 16)),
        ("discover {}", luhn_complete("6011", 16)),
        ("jcb {} ok", luhn_complete("3530", 16)),
        ("mc2 {}", luhn_complete("2221", 16)),
        ("visa19 {}", luhn_complete("4", 19)),
        ("4 items, card {} 12 units", luhn_complete("4", 16)),
    ):
        s.append(Secret("card", template.format(number), number))
    return s


SECRETS: list[Secret] = _build()


def windows(secret: str, size: int = 6) -> list[str]:
    """Every run of ``size`` characters of the secret (spaces and dashes removed)."""
    compact = secret.replace(" ", "").replace("-", "").replace("\n", "")
    return [compact[i : i + size] for i in range(len(compact) - size + 1)] or [compact]


def leaks(secret: str, output: Any, size: int = 6) -> list[str]:
    """The runs of ``secret`` still present anywhere in ``output`` (rendered as JSON)."""
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    squashed = text.replace(" ", "").replace("-", "").replace("\\n", "").replace("\n", "")
    return [window for window in windows(secret, size) if window in squashed]


# --- the false-positive corpus ---------------------------------------------------------------------

#: Key names that are not secrets (whole words, known non-secret suffixes).
ORDINARY_KEYS = [
    "password_min_length",
    "password_max_length",
    "password_policy",
    "password_reset_required",
    "password_changed_at",
    "secret_arn",
    "secret_name",
    "secret_version",
    "api_key_id",
    "api_key_name",
    "access_key_id",
    "jwt_issuer",
    "jwt_audience",
    "jwt_algorithm",
    "authorization_url",
    "authorization_endpoint",
    "cookie_consent",
    "cookie_name",
    "token_expires_at",
    "token_type",
    "token_url",
    "token_endpoint",
    "tokens",
    "tokenizer",
    "max_tokens",
    "token_count",
    "gen_ai.usage.input_tokens",
    "gen_ai.request.max_tokens",
    "passage",
    "author",
    "authority",
    "secretary",
    "keyboard",
    "keyring_backend",
    "session_id",
    "user_id",
    "request.id",
    "trace_id",
    "credential_provider",
    "credentials_file",
    "private_key_path",
    "signing_key_id",
    "client_secret_expires_at",
    "csrf_header_name",
    "bypass",
    "compass_heading",
    "passenger_count",
    "otp_length",
    "http.request.header.content_type",
    "pwd",
]


def _snowflakes(count: int) -> list[str]:
    rng = random.Random(200)
    return [
        str(rng.randrange(10 ** (digits - 1), 10**digits))
        for digits in (16, 17, 18, 19)
        for _ in range(count // 4)
    ]


#: Values that look a bit like secrets and are not.
ORDINARY_VALUES: list[str] = [
    *_snowflakes(200),
    *(f"{random.Random(i).getrandbits(128):032x}" for i in range(20)),  # trace ids
    *(f"{random.Random(i).getrandbits(64):016x}" for i in range(20)),  # span ids
    *(str(__import__("uuid").UUID(int=random.Random(i).getrandbits(128), version=4)) for i in range(20)),
    *(f"{random.Random(i).getrandbits(256):064x}" for i in range(20)),  # SHA-256
    *(f"{random.Random(i).getrandbits(160):040x}" for i in range(20)),  # SHA-1 / git commits
    "pwd: /home/agent/work",
    "cwd=/srv/app pwd=/srv/app",
    "/home/agent/.ssh/known_hosts",
    "C:\\Users\\agent\\AppData\\Local\\Temp",
    "gpt-4o-mini-2024-07-18",
    "claude-3-5-sonnet-20241022",
    "text-embedding-3-large",
    "cl100k_base",
    "sk-learn-pipeline-configuration",
    "tokens: 100, max_token=100, the bearer information is public",
    "prompt_tokens=812 completion_tokens=164 total_tokens=976",
    "the basic plan costs 10 USD",
    "tests pass: 212 of 212",
    "order number 1234567890123 shipped",
    "sent_at_ms=1729766400000",
    "elapsed 0.000123 s, 4096 bytes",
    "https://api.openai.com/v1/chat/completions",
    "https://user@example.com/profile",
    "https://example.com:8443/path?a=1#frag",
    "postgres://db.internal:5432/prod",
    "mailto:jane.doe@example.com",
    "2024-10-24T12:00:00.000Z",
    "192.168.10.24:8080",
    "v1.45.2",
    "ghp is not a token",
    "password reset link sent",
    "the secret to good prompts is clarity",
    "token budget exceeded: 5000 > 4000",
    "Set max_tokens to 512",
    "İstanbul, Zürich, São Paulo",
    "ﬁle naïve café",
    "AKIA is how AWS access key ids start",
    "https://docs.example.com/authorization-code-flow",
    "key=value pairs are parsed by the config loader",
    "git log --oneline -u --stat",
    "pip install -U --pre kaizen-otel",
    "--- a/file.py\n+++ b/file.py",
    "run with --token-count 512 --password-file /run/secrets/db",
]
