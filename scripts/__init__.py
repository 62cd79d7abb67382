"""The repository's helper scripts, importable from the repository root
(`from scripts.datasets import mnist_sample`) as well as run by path
(`python scripts/datasets.py mnist-sample .data`)."""
