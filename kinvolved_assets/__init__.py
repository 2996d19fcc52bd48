"""Kinvolved OneRoster+ attendance data platform."""

__version__ = "0.1.0"
