#!/bin/sh
# Generate a local certificate authority and the certificates of the stack, for TLS (and mutual
# TLS) between applications and the collector.
#
#   deploy/tls/generate-certs.sh [OUT_DIR] [EXTRA_NAME ...]
#
# OUT_DIR (default deploy/tls/out, which git ignores) receives:
#   ca.crt, ca.key                  the CA; give ca.crt to clients (OTEL_EXPORTER_OTLP_CERTIFICATE)
#   collector.crt, collector.key    the collector's server certificate, valid for localhost,
#                                   127.0.0.1, collector, gateway and every EXTRA_NAME (a DNS name
#                                   or an IP address)
#   client.crt, client.key          a client certificate for mutual TLS
#                                   (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY)
# An existing CA in OUT_DIR is reused, so certificates can be re-issued without redistributing
# ca.crt. Keys are EC P-256; ca.key and client.key are readable by their owner only. Needs openssl.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/out"}
[ $# -gt 0 ] && shift
days=${CERT_DAYS:-825}

command -v openssl >/dev/null 2>&1 || { echo "generate-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$out"
umask 077

san="DNS:localhost,IP:127.0.0.1,DNS:collector,DNS:gateway"
for name in "$@"; do
    case "$name" in
        *[!0-9.]*) case "$name" in *:*) san="$san,IP:$name" ;; *) san="$san,DNS:$name" ;; esac ;;
        *) san="$san,IP:$name" ;;
    esac
done

newkey() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
    newkey "$out/ca.key"
    openssl req -x509 -new -key "$out/ca.key" -sha256 -days "$days" \
        -subj "/CN=kaizen-otel local CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$out/ca.crt"
fi

issue() {  # issue NAME CN EXTENDED_KEY_USAGE SUBJECT_ALT_NAMES
    newkey "$out/$1.key"
    openssl req -new -key "$out/$1.key" -subj "/CN=$2" -out "$out/$1.csr"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$3" \
        > "$out/$1.ext"
    [ -n "$4" ] && printf 'subjectAltName=%s\n' "$4" >> "$out/$1.ext"
    openssl x509 -req -in "$out/$1.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -days "$days" -sha256 -extfile "$out/$1.ext" -out "$out/$1.crt" 2>/dev/null
    rm -f "$out/$1.csr" "$out/$1.ext"
}

issue collector "kaizen-otel collector" serverAuth "$san"
issue client "kaizen-otel client" clientAuth ""
chmod 644 "$out/ca.crt" "$out/collector.crt" "$out/client.crt"
# The collector container runs as another (non-root) user and must read its key through the bind
# mount; the CA and client keys stay readable by their owner only.
chmod 644 "$out/collector.key"
chmod 755 "$out"
echo "certificates in $out (CA: $out/ca.crt)"
