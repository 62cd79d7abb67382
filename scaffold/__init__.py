"""scaffold: writes small, self-contained PyTorch training projects that you own."""

__version__ = "0.1.0"
