"""The data: your own images and their masks, a class index per pixel.

Every kind of data hands the train script the same two functions: add_arguments(parser)
for its flags, and get_data(args, device, wanted), which returns Data.
"""

from .images import Preprocessing
from .loaders import Data, DataError
from .masks import add_arguments, get_data
from .pairs import IGNORE_INDEX, read_mask

__all__ = [
    "IGNORE_INDEX",
    "Data",
    "DataError",
    "Preprocessing",
    "add_arguments",
    "get_data",
    "read_mask",
]
