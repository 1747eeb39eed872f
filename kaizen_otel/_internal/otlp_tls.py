"""TLS for the OTLP exporters, from ``otlp_certificate`` and the client certificate pair.

The SDK's own handling falls short in two ways this module closes: a gRPC exporter given an
``http://`` endpoint sends plaintext even when a CA certificate is configured, and the HTTP
exporter's CA is silently replaced by ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when either is
set in the environment (requests applies them over a session's own ``verify``). Imported only when
a certificate is configured.
"""

from __future__ import annotations

from typing import Any

import requests

from kaizen_otel._internal.settings import Settings
from kaizen_otel.exceptions import KaizenConfigError

__all__ = ["tls_arguments"]


class _PinnedCASession(requests.Session):
    """A session whose ``verify`` (the configured CA) wins over the environment's CA bundle."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        merged: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:
            merged["verify"] = self.verify
        return merged


def _read_pem(setting: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise KaizenConfigError(setting, path, f"a readable PEM file ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise KaizenConfigError(setting, path, "a PEM file (-----BEGIN ...)")
    return data


def tls_arguments(settings: Settings, protocol: str, endpoint: str | None) -> dict[str, Any]:
    """Exporter keyword arguments that make it verify the collector and, if set, present a client pair.

    Files are read (and so checked) here, at configure time: a wrong path is a
    :class:`KaizenConfigError` naming the setting, not a failing export later.
    """
    if settings.otlp_certificate is None:
        raise KaizenConfigError("otlp_certificate", None, "a CA certificate file when TLS is asked for")
    cert, key = settings.otlp_client_certificate, settings.otlp_client_key
    if (cert is None) != (key is None):
        missing = "otlp_client_key" if key is None else "otlp_client_certificate"
        raise KaizenConfigError(missing, None, "set together with its pair, for mutual TLS")
    ca = _read_pem("otlp_certificate", settings.otlp_certificate)
    chain = _read_pem("otlp_client_certificate", cert) if cert is not None else None
    private = _read_pem("otlp_client_key", key) if key is not None else None
    if protocol == "grpc":
        import grpc

        credentials = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=private, certificate_chain=chain
        )
        return {"insecure": False, "credentials": credentials}
    kwargs: dict[str, Any] = {
        "certificate_file": settings.otlp_certificate,
        "client_certificate_file": cert,
        "client_key_file": key,
        "session": _PinnedCASession(),
    }
    if endpoint is not None and endpoint.lower().startswith("http://"):
        kwargs["endpoint"] = "https://" + endpoint[len("http://") :]
    return kwargs
