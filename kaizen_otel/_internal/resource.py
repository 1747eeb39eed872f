"""``Settings`` → the OTel ``Resource`` shared by traces, metrics and logs."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource

from kaizen_otel._internal.settings import Settings
from kaizen_otel._version import __version__


def build_resource(settings: Settings) -> Resource:
    """Resolved settings win over the SDK's own resource detection (same variables, same meaning).

    ``Resource.create`` still runs the SDK's detectors (process, ``OTEL_RESOURCE_ATTRIBUTES``), so
    attributes the user set in the standard way are kept; ours are merged on top.
    """
    attributes: dict[str, str] = dict(settings.resource_attributes)
    attributes["service.name"] = settings.service_name
    if settings.service_version:
        attributes["service.version"] = settings.service_version
    if settings.environment:
        attributes["deployment.environment.name"] = settings.environment
    attributes["telemetry.distro.name"] = "kaizen_otel"
    attributes["telemetry.distro.version"] = __version__
    return Resource.create(attributes)
