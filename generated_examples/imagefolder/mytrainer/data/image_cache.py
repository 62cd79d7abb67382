"""Images decoded once, at the training size, into one uint8 tensor, and kept in a
cache file so that the next run with the same files skips decoding.

The cache file's name is a hash of everything its contents depend on: each file's
path, size and modification time, and the size and channels decoded to. A changed,
added or removed image makes a new name, so a stale cache is never read. The
folder keeps the most recently used files within a size bound (`prune`); deleting
it is always safe: the next run decodes again.
"""

import contextlib
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from .images import ImageError, load_array
from .loaders import DataError

FORMAT = 1  # bump when what is cached changes meaning
# What a worker hands over at a time: each hand-over costs both processes a fraction
# of a millisecond, so small images go a few hundred at a time, large ones 64.
BATCH_BYTES = 2**18


def cache_key(paths, channels, size, resize):
    digest = hashlib.sha256(f"{FORMAT} {channels} {size} {resize}\n".encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(
            f"{os.path.abspath(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode()
        )
    return digest.hexdigest()[:24]


class Decoded(torch.utils.data.Dataset):
    """Image i as (i, uint8 array), or (i, the error's message) when unreadable."""

    def __init__(self, paths, channels, size, resize):
        self.paths = paths
        self.channels = channels
        self.size = size
        self.resize = resize

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        try:
            return index, load_array(
                self.paths[index], self.channels, self.size, self.resize
            )
        except ImageError as error:
            return index, str(error)


def decode(paths, channels, size, resize, workers):
    """(images, unreadable): the readable images as an (N, C, size, size) uint8
    tensor in the order of paths, and {index: message} for the others."""
    images = torch.empty(len(paths), channels, size, size, dtype=torch.uint8)
    unreadable = {}
    decoded = DataLoader(
        Decoded(paths, channels, size, resize),
        batch_size=max(64, BATCH_BYTES // (channels * size * size)),
        num_workers=workers,
        collate_fn=stacked,
        # Workers' seeds from a random stream of its own: by default a DataLoader
        # draws them from torch's global one, so decoding would change the model's
        # initial weights whenever the cache misses, and a run would depend on it.
        generator=torch.Generator(),
    )
    # Filled through NumPy, one thread: torch spreads even a small copy over its
    # thread pool, whose threads wait for the cores the decoding workers hold
    # (milliseconds per batch, most of this process's time, instead of microseconds).
    slots = images.numpy()
    for indices, batch, failed in decoded:
        if indices:
            slots[indices] = batch
        unreadable.update(failed)
    if unreadable:
        images = images[[i for i in range(len(paths)) if i not in unreadable]]
    return images, unreadable


def decode_sample(paths, channels, size, resize):
    """The sampled images, decoded here: enough to measure their normalization."""
    images, _ = decode(paths, channels, size, resize, workers=0)
    if len(images) == 0:
        raise DataError("none of the sampled training images could be read")
    return images


def stacked(items):
    """A batch of Decoded items as (indices, images, {index: message}), the images
    one NumPy array. One array crosses from a worker process per batch, through
    the pipe: a tensor would cross through shared memory of its own, whose
    hand-over (a connection to the worker, authenticated, per tensor) costs
    more than the copy on batches of small images."""
    read = [(i, image) for i, image in items if not isinstance(image, str)]
    failed = {i: image for i, image in items if isinstance(image, str)}
    if not read:
        return [], None, failed
    indices, images = zip(*read, strict=True)
    return list(indices), np.stack(images), failed


def cached_images(
    paths, labels, channels, size, resize, cache_dir, workers, quiet=False
):
    """(images, labels) of the readable images among paths: from the cache file when
    one matches, else decoded and written to it. Each unreadable image is named
    in a warning line, every time, cached or not."""
    path = os.path.join(cache_dir, f"{cache_key(paths, channels, size, resize)}.pt")
    try:
        cached = torch.load(path, weights_only=True)
        images, unreadable = cached["images"], cached["unreadable"]
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last file that prune removes
    except (OSError, RuntimeError, KeyError, EOFError):
        images, unreadable = decode(paths, channels, size, resize, workers)
        store(path, {"images": images, "unreadable": unreadable})
    if unreadable and not quiet:
        for message in unreadable.values():
            print(f"warning: skipped {message}", file=sys.stderr)
        print(
            f"warning: {len(unreadable)} of {len(paths)} images could not be read",
            file=sys.stderr,
        )
    kept = [label for i, label in enumerate(labels) if i not in unreadable]
    return images, torch.tensor(kept, dtype=torch.int64)


def store(path, value):
    """Write the cache file whole or not at all; a cache that cannot be written
    costs only the next run's decoding."""
    partial = f"{path}.{os.getpid()}.partial"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.save(value, partial)
        os.replace(partial, path)
    except OSError as error:
        print(f"warning: cannot write the image cache {path}: {error}", file=sys.stderr)
        if os.path.exists(partial):
            os.remove(partial)


def prune(folder, limit_bytes, keep=2):
    """Remove the least recently used cache files past `limit_bytes` in all; the
    `keep` newest (a run's training and validation images) stay whatever their
    size."""
    files = []
    for path in Path(folder).glob("*.pt"):
        with contextlib.suppress(OSError):  # another run may remove it meanwhile
            files.append((path.stat().st_mtime, path.stat().st_size, path))
    total = 0
    for index, (_, size, path) in enumerate(sorted(files, reverse=True)):
        total += size
        if index >= keep and total > limit_bytes:
            with contextlib.suppress(OSError):
                path.unlink()
