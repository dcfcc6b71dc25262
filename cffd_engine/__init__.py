"""CFFD Studio engine: face-forgery detection and continual learning, free of any GUI code."""

__version__ = "0.1.0"
