"""The data: your own images, from class folders or CSV files.

Every kind of data hands the train script the same two functions: add_arguments(parser)
for its flags, and get_data(args, device, wanted), which returns Data.
"""

from .imagefolder import add_arguments, get_data
from .images import Preprocessing
from .loaders import Data, DataError

__all__ = ["Data", "DataError", "Preprocessing", "add_arguments", "get_data"]
