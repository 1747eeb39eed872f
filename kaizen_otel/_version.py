"""The package version, as a constant: reading it from installed metadata costs ~50 ms at startup."""

__version__ = "0.1.0"
