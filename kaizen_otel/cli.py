"""``kaizen-otel``: inspect the configuration, run the demo agent, verify and query audit trails.

Subcommands import their machinery lazily, so ``kaizen-otel config`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any

from kaizen_otel._internal.settings import SettingSpec, render_value, resolve, setting_specs
from kaizen_otel.exceptions import KaizenConfigError


def _config(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(configuration_reference())
        return 0
    try:
        resolved = resolve(strict=not args.lenient)
    except KaizenConfigError as exc:
        print(f"kaizen-otel: {exc}", file=sys.stderr)
        return 2
    rows = [
        (
            spec.name,
            render_value(spec.name, getattr(resolved.settings, spec.name)),
            resolved.sources[spec.name],
        )
        for spec in setting_specs()
    ]
    if args.json:
        for name, value, source in rows:
            print(json.dumps({"setting": name, "value": value, "source": source}))
        return 0
    rows.insert(0, ("SETTING", "VALUE", "SOURCE"))
    width = max(len(name) for name, _, _ in rows)
    value_width = min(48, max(len(value) for _, value, _ in rows))
    for name, value, source in rows:
        print(f"{name:<{width}}  {value or '-':<{value_width}}  {source}")
    for problem in resolved.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def _default_text(spec: SettingSpec) -> str:
    if spec.name.endswith("_exporter") or spec.name == "live_view":
        return "(derived, see meaning)"
    if spec.default is None:
        return "unset"
    text = render_value(spec.name, spec.default)
    return f"`{text}`" if text else "empty"


def configuration_reference() -> str:
    """``docs/configuration.md``, generated from the settings table (a test keeps it in sync)."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the settings table by `kaizen-otel config --markdown`; do not edit by hand.",
        "",
        "Every setting can be given as a keyword argument of `kaizen_otel.configure()` (the "
        "setting's name) or through its environment variables. Precedence: argument, then the "
        "variables in the order listed (`KAIZEN_OTEL_*` before the standard `OTEL_*`), then the "
        "default. An empty variable counts as unset. A bad argument or `KAIZEN_OTEL_*` value "
        "raises `KaizenConfigError`; a bad standard `OTEL_*` value is logged and the default used. "
        "Under `opentelemetry-instrument` every bad value is logged once and the default used.",
        "",
        "`kaizen-otel config` prints each setting's effective value and where it came from.",
        "",
        "Variables read by the OpenTelemetry SDK itself keep their meaning and are not repeated "
        "here: `OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._COMPRESSION`, `..._CERTIFICATE` "
        "(and their per-signal forms), `OTEL_BSP_*`, `OTEL_BLRP_*`, `OTEL_ATTRIBUTE_*_LIMIT`, "
        "`OTEL_SPAN_*_LIMIT`, `OTEL_PROPAGATORS`.",
    ]
    group = None
    for spec in setting_specs():
        if spec.group != group:
            group = spec.group
            lines += [
                "",
                f"## {group.capitalize()}",
                "",
                "| setting | variables | allowed | default | meaning |",
                "|---|---|---|---|---|",
            ]
        variables = "<br>".join(f"`{var}`" for var in spec.env)
        allowed = str(spec.kind.allowed).replace("|", "\\|")
        doc = spec.doc.replace("|", "\\|")
        lines.append(f"| `{spec.name}` | {variables} | {allowed} | {_default_text(spec)} | {doc} |")
    return "\n".join(lines) + "\n"


def _demo(args: argparse.Namespace) -> int:
    from kaizen_otel import demo

    return int(demo.run(args) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kaizen-otel", description="OpenTelemetry-native observability for AI agents."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    config = sub.add_parser("config", help="every setting, its effective value and its source")
    form = config.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON object per setting")
    form.add_argument(
        "--markdown", action="store_true", help="print the configuration reference (docs/configuration.md)"
    )
    config.add_argument(
        "--lenient", action="store_true", help="report bad values as warnings, as auto-instrumentation does"
    )
    config.set_defaults(func=_config)

    from kaizen_otel import demo as demo_module

    demo = sub.add_parser(
        "demo",
        help="run the demo agent with the embedded defaults",
        description=demo_module.__doc__.splitlines()[0] if demo_module.__doc__ else None,
    )
    demo_module.add_arguments(demo)
    demo.set_defaults(func=_demo)

    from kaizen_otel.audit.cli import register

    register(sub)
    from kaizen_otel._internal import doctor

    doctor.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `kaizen-otel config | head` ends quietly, like other CLIs
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    args: Any = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
