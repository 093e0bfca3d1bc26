"""automagik-telemetry for Python: events, errors, metrics and logs to a self-hosted telemetry stack. Standard library only."""

from ._client import AutomagikTelemetry, __version__
from ._options import ConfigError

__all__ = ["AutomagikTelemetry", "ConfigError", "__version__"]
