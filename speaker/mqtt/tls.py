"""The TLS context for the broker, from ``mqtt.tls``."""

from __future__ import annotations

import ssl

from speaker.config.schema import MqttTls


def tls_context(tls: MqttTls | None) -> ssl.SSLContext | None:
    """None for plain TCP. 'insecure' skips the hostname check only; the certificate chain is still
    verified (give ca_file for a self-signed broker)."""
    if tls is None:
        return None
    context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
    if tls.cert_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
    context.check_hostname = not tls.insecure
    return context
