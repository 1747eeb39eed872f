"""Real servers for the integration tests: Prometheus, Alertmanager, rotel and a webhook receiver.

Each server is a child process on 127.0.0.1 with a free port and a temporary directory of its
own (config, storage, log), started by ``start()`` and stopped by PID in ``stop()`` (terminate,
wait, kill). They are context managers, so a ``with`` block or a fixture's teardown always stops
them. Only the standard library is used to talk to them, so the helpers work in any test.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from tests.testbed.install import rotel_agent_path

HOST = "127.0.0.1"
PROCESSOR_FILE = Path(__file__).with_name("rotel_processor.py")
ROTEL_OUT_ENV = "KAIZEN_TESTBED_ROTEL_OUT"
POLL_SECONDS = 0.1
STOP_TIMEOUT = 5.0
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>

Record = dict[str, Any]
_Server = TypeVar("_Server", bound="ManagedProcess")


class ServerError(RuntimeError):
    """A test server did not start or answered with an error."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def port_open(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET url; returns (status, body) and does not raise for HTTP error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def http_post(url: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, bytes]:
    """POST body to url; returns (status, body) and does not raise for HTTP error statuses."""
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies, even by ``kill -9``.

    Fixtures stop servers in teardown, but a test run that is itself killed never reaches it;
    without this a Prometheus or rotel would outlive the run and hold its port.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _poll(check: Callable[[], Any], timeout: float, interval: float = POLL_SECONDS) -> Any:
    """Call check until it returns something truthy or timeout passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


class ManagedProcess(ABC):
    """A server binary run as our child: own temp dir, log file, stop by PID."""

    name = "server"

    def __init__(self, workdir: str | Path | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        )
        self.log_path = self.workdir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @abstractmethod
    def command(self) -> list[str]:
        """The argv that starts the server in the foreground."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    @abstractmethod
    def prepare(self) -> None:
        """Write config files before the process starts."""

    @abstractmethod
    def ready(self) -> bool:
        """True once the server answers."""

    def start(self, timeout: float = 15.0) -> None:
        """Start the process and wait until it answers; stops it again if it does not."""
        self.prepare()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                cwd=self.workdir,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        try:
            if not _poll(self._alive_and_ready, timeout, interval=0.02):
                raise ServerError(f"{self.name} did not become ready in {timeout:.0f} s\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _alive_and_ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerError(f"{self.name} exited with code {self.process.returncode}\n{self.log_tail()}")
        return self.ready()

    def stop(self) -> None:
        """Terminate by PID, wait, kill if it lingers; remove the temp dir if we made it."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"({self.name} log not found)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------------
# Prometheus


class Prometheus(ManagedProcess):
    """Debian's ``prometheus`` scraping the given targets every second.

    The first scrape lands about 6 s after start (its reload ticker is a fixed 5 s), and a target
    added later by ``add_target`` also waits for that ticker, so use ``wait_for`` rather than a
    single ``query`` right after scraping starts.
    """

    name = "prometheus"

    def __init__(
        self,
        targets: Iterable[str] = (),
        *,
        job: str = "testbed",
        rule_files: Iterable[str | Path] = (),
        alertmanager: str | None = None,
        binary: str = "prometheus",
        workdir: str | Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.port = free_port()
        self.config_path = self.workdir / "prometheus.yml"
        self._jobs: dict[str, list[str]] = {job: list(targets)}
        self._rule_files = [str(Path(path).resolve()) for path in rule_files]
        self._alertmanager = alertmanager
        self._lock = threading.Lock()

    @property
    def host_port(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host_port}",
            "--web.enable-lifecycle",
            # Firing alerts are re-sent every second, not every minute: an Alertmanager added by a
            # reload is discovered only on the next 5 s tick, after the first send went nowhere.
            "--rules.alert.resend-delay=1s",
            "--log.level=warn",
        ]

    def config_text(self) -> str:
        """The Prometheus config for the current targets, rules and Alertmanager (JSON is valid YAML)."""
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in sorted(self._jobs.items())
            ],
        }
        if self._rule_files:
            config["rule_files"] = self._rule_files
        if self._alertmanager:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [self._alertmanager]}]}]}
        return json.dumps(config, indent=2)

    def prepare(self) -> None:
        self.config_path.write_text(self.config_text())

    def ready(self) -> bool:
        try:
            return http_get(f"{self.url}/-/ready", timeout=1.0)[0] == 200
        except OSError:
            return False

    def reload(self) -> None:
        """Rewrite the config file and apply it (``POST /-/reload``); raises if Prometheus rejects it.

        Before ``start()`` this only rewrites the file, which the start then reads.
        """
        with self._lock:
            self.prepare()
            if not self.running:
                return
            status, body = http_post(f"{self.url}/-/reload")
        if status != 200:
            raise ServerError(f"prometheus rejected its config ({status}): {body.decode(errors='replace')}")

    def add_target(self, host_port: str, job: str = "testbed") -> None:
        """Scrape host_port (``/metrics``) from now on, under the given job label."""
        targets = self._jobs.setdefault(job, [])
        if host_port not in targets:
            targets.append(host_port)
            self.reload()

    def remove_target(self, host_port: str) -> None:
        """Stop scraping host_port (in every job)."""
        changed = False
        for targets in self._jobs.values():
            if host_port in targets:
                targets.remove(host_port)
                changed = True
        if changed:
            self.reload()

    def add_rule_file(self, path: str | Path) -> None:
        """Load a recording/alerting rule file (absolute path) from now on."""
        resolved = str(Path(path).resolve())
        if resolved not in self._rule_files:
            self._rule_files.append(resolved)
            self.reload()

    def remove_rule_file(self, path: str | Path) -> None:
        """Stop loading a rule file added before."""
        resolved = str(Path(path).resolve())
        if resolved in self._rule_files:
            self._rule_files.remove(resolved)
            self.reload()

    def set_alertmanager(self, host_port: str | None) -> None:
        """Send firing alerts to the Alertmanager at host_port (None: to none)."""
        self._alertmanager = host_port
        self.reload()

    def api(self, path: str, **params: str) -> Any:
        """GET an ``/api/v1`` path and return its ``data``; raises ServerError on an API error."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(f"{self.url}/api/v1/{path}{query}")
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise ServerError(f"prometheus answered {status} with non-JSON: {body[:200]!r}") from error
        if payload.get("status") != "success":
            raise ServerError(f"prometheus {path} failed ({status}): {payload.get('error', payload)}")
        return payload["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query; returns ``data.result`` (a list of ``{"metric": labels, "value": [t, "v"]}``)."""
        data = self.api("query", query=promql)
        result = data["result"]
        return result if isinstance(result, list) else [result]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll the query until it returns a non-empty result; raise AssertionError on timeout."""
        result = _poll(lambda: self.query(promql), timeout, interval=0.25)
        if not result:
            raise AssertionError(
                f"PromQL {promql!r} stayed empty for {timeout:.0f} s; targets: {self.target_health()}"
            )
        return list(result)

    def value(self, promql: str) -> float:
        """The value of a query that returns exactly one sample."""
        result = self.query(promql)
        if len(result) != 1:
            raise AssertionError(f"PromQL {promql!r} returned {len(result)} series, expected 1: {result}")
        return float(result[0]["value"][1])

    def metric_names(self) -> list[str]:
        """Every metric name Prometheus has stored."""
        return list(self.api("label/__name__/values"))

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets with their health and last error."""
        return list(self.api("targets")["activeTargets"])

    def target_health(self) -> dict[str, str]:
        """``{scrape_url: "up" | "down: <error>" | "unknown"}`` for the error message of a failed wait."""
        health = {}
        for target in self.targets():
            error = target.get("lastError") or ""
            health[target["scrapeUrl"]] = target["health"] + (f": {error}" if error else "")
        return health

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts in state pending or firing, as Prometheus sees them."""
        return list(self.api("alerts")["alerts"])


# --------------------------------------------------------------------------------------------------
# Webhook receiver and Alertmanager


class WebhookReceiver:
    """A tiny HTTP server that records every JSON body POSTed to it (Alertmanager's webhook)."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {"raw": raw.decode(errors="replace")}
                with receiver._lock:
                    receiver.notifications.append(payload)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=STOP_TIMEOUT)
            self._thread = None
        self._server.server_close()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification so far, in arrival order."""
        with self._lock:
            return [alert for payload in self.notifications for alert in payload.get("alerts", [])]

    def clear(self) -> None:
        with self._lock:
            self.notifications.clear()

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Wait until an alert satisfies predicate; returns the matching alerts."""
        matching = _poll(lambda: [alert for alert in self.alerts() if predicate(alert)], timeout, 0.2)
        if not matching:
            raise AssertionError(f"no matching alert reached the webhook in {timeout:.0f} s: {self.alerts()}")
        return list(matching)

    def wait_for_alert(self, alertname: str, status: str = "firing", timeout: float = 30.0) -> dict[str, Any]:
        """Wait for an alert with this ``alertname`` label and status; returns it."""
        return self.wait_for(
            lambda alert: (
                alert.get("labels", {}).get("alertname") == alertname and alert.get("status") == status
            ),
            timeout,
        )[0]


class Alertmanager(ManagedProcess):
    """Debian's ``prometheus-alertmanager`` routing every alert to a local webhook receiver.

    ``group_wait`` and ``group_interval`` are 1 s so a firing alert reaches ``webhook`` within a few
    seconds of Prometheus sending it. Gossip is off (``--cluster.listen-address=``) so nothing binds
    outside loopback.
    """

    name = "alertmanager"

    def __init__(self, binary: str = "prometheus-alertmanager", workdir: str | Path | None = None) -> None:
        super().__init__(workdir)
        self.binary = binary
        self.port = free_port()
        self.config_path = self.workdir / "alertmanager.yml"
        self.webhook = WebhookReceiver()

    @property
    def host_port(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host_port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]

    def config_text(self) -> str:
        config = {
            "route": {
                "receiver": "webhook",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {"name": "webhook", "webhook_configs": [{"url": self.webhook.url, "send_resolved": True}]}
            ],
        }
        return json.dumps(config, indent=2)

    def prepare(self) -> None:
        self.config_path.write_text(self.config_text())

    def ready(self) -> bool:
        try:
            return http_get(f"{self.url}/-/ready", timeout=1.0)[0] == 200
        except OSError:
            return False

    def start(self, timeout: float = 15.0) -> None:
        self.webhook.start()
        try:
            super().start(timeout)
        except BaseException:
            self.webhook.stop()
            raise

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.webhook.stop()

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds right now (``GET /api/v2/alerts``)."""
        status, body = http_get(f"{self.url}/api/v2/alerts")
        if status != 200:
            raise ServerError(f"alertmanager /api/v2/alerts answered {status}: {body[:200]!r}")
        return list(json.loads(body))


# --------------------------------------------------------------------------------------------------
# rotel: a real OTLP receiver


_SIGNAL_ALIASES = {
    "span": "span",
    "spans": "span",
    "trace": "span",
    "traces": "span",
    "log": "log",
    "logs": "log",
    "metric": "metric",
    "metrics": "metric",
    "error": "error",
}


class Rotel(ManagedProcess):
    """``rotel-agent`` receiving OTLP over gRPC and HTTP and recording what arrived.

    Runs in the foreground as our child with the ``blackhole`` exporter; ``rotel_processor.py``
    appends one JSON line per span, log record and metric data point to ``records_path``.
    ``received()`` reads that file incrementally; ``clear()`` forgets what was read so far (the
    file itself is kept as the session's full record).
    """

    name = "rotel"

    def __init__(
        self,
        agent: str | Path | None = None,
        *,
        batch_timeout: str = "50ms",
        workdir: str | Path | None = None,
    ) -> None:
        super().__init__(workdir)
        resolved = agent if agent is not None else rotel_agent_path()
        if resolved is None:
            raise ServerError("rotel-agent not found: install the `rotel` package")
        self.agent = Path(resolved)
        self.batch_timeout = batch_timeout
        self.grpc_port = free_port()
        self.http_port = free_port()
        while self.http_port == self.grpc_port:
            self.http_port = free_port()
        self.records_path = self.workdir / "received.jsonl"
        self._offset = 0
        self._records: list[Record] = []
        self._read_lock = threading.Lock()

    @property
    def grpc_endpoint(self) -> str:
        """``http://127.0.0.1:PORT``: for OTLPSpanExporter(endpoint=...) of the gRPC exporters."""
        return f"http://{HOST}:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` base URL: the HTTP exporters append ``/v1/traces`` etc."""
        return f"http://{HOST}:{self.http_port}"

    def otlp_env(self, protocol: str = "grpc") -> dict[str, str]:
        """Environment variables that point an OTel SDK process at this receiver."""
        if protocol not in ("grpc", "http/protobuf"):
            raise ValueError(f"protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")
        endpoint = self.grpc_endpoint if protocol == "grpc" else self.http_endpoint
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}

    def command(self) -> list[str]:
        processor = str(PROCESSOR_FILE)
        return [
            str(self.agent),
            "start",
            "--otlp-grpc-endpoint",
            f"{HOST}:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"{HOST}:{self.http_port}",
            "--exporter",
            "blackhole",
            "--otlp-with-trace-processor",
            processor,
            "--otlp-with-logs-processor",
            processor,
            "--otlp-with-metrics-processor",
            processor,
            "--batch-timeout",
            self.batch_timeout,
            "--pid-file",
            str(self.workdir / "rotel.pid"),
            "--log-file",
            str(self.workdir / "rotel-daemon.log"),
        ]

    def prepare(self) -> None:
        self.records_path.touch()

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ROTEL_")}
        env[ROTEL_OUT_ENV] = str(self.records_path)
        env["NO_COLOR"] = "1"
        return env

    def ready(self) -> bool:
        return port_open(self.grpc_port) and port_open(self.http_port)

    def _read_new(self) -> None:
        """Parse the complete lines appended since the last read."""
        with self._read_lock:
            try:
                with open(self.records_path, "rb") as handle:
                    handle.seek(self._offset)
                    chunk = handle.read()
            except FileNotFoundError:
                return
            end = chunk.rfind(b"\n")
            if end < 0:
                return
            self._offset += end + 1
            for line in chunk[: end + 1].splitlines():
                if line.strip():
                    self._records.append(json.loads(line))

    def received(self, signal: str | None = None, service_name: str | None = None) -> list[Record]:
        """Records that arrived since the last ``clear()``, optionally of one signal / service.

        signal: ``"span"``, ``"log"``, ``"metric"`` (plural and ``"traces"`` accepted) or ``"error"``
        (a processor failure). Each record has ``signal``, ``resource`` (dict), ``service_name`` and
        ``scope`` (``{"name", "version", "attributes"}``) plus, per signal —
        span: ``name kind trace_id span_id parent_span_id attributes events links status
        start_time_unix_nano end_time_unix_nano``;
        log: ``body severity_number severity_text event_name attributes trace_id span_id
        time_unix_nano observed_time_unix_nano``;
        metric (one record per data point): ``name unit description type`` (``sum gauge histogram
        exponentialhistogram summary``), ``monotonic`` and ``temporality`` where they apply,
        ``attributes time_unix_nano value`` (number points) or ``count sum min max bucket_counts
        explicit_bounds`` (histograms; ``value`` is None). Ids are lowercase hex, "" when unset.
        """
        if signal is not None and signal not in _SIGNAL_ALIASES:
            raise ValueError(f"signal must be one of {sorted(_SIGNAL_ALIASES)} or None, got {signal!r}")
        self._read_new()
        wanted = _SIGNAL_ALIASES[signal] if signal is not None else None
        with self._read_lock:
            records = list(self._records)
        return [
            record
            for record in records
            if (wanted is None or record["signal"] == wanted)
            and (service_name is None or record.get("service_name") == service_name)
        ]

    def wait_for(
        self, predicate: Callable[[Record], bool], timeout: float = 10.0, count: int = 1
    ) -> list[Record]:
        """Wait until at least ``count`` received records satisfy predicate; returns all that do."""

        def enough() -> list[Record]:
            hits = [record for record in self.received() if predicate(record)]
            return hits if len(hits) >= count else []

        found = _poll(enough, timeout, 0.05)
        if not found:
            raise AssertionError(
                f"rotel: fewer than {count} matching records in {timeout:.0f} s; received "
                f"{self.summary()}\n{self.log_tail(10)}"
            )
        return list(found)

    def clear(self) -> None:
        """Forget everything received so far; later ``received()`` calls see only new records."""
        self._read_new()
        with self._read_lock:
            self._records.clear()

    def summary(self) -> str:
        """A short description of what arrived, for assertion messages."""
        lines = []
        for record in self.received():
            label = record.get("name") or record.get("body") or record.get("error", "")
            lines.append(f"{record['signal']}:{record.get('service_name')}:{str(label)[:80]}")
        return "; ".join(lines[-40:]) or "nothing"
