"""Gait decisions as OpenTelemetry log records over OTLP."""

__version__ = "0.1.0"
