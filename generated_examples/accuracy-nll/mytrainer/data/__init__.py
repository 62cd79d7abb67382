"""The data: MNIST or Fashion-MNIST in torchvision's files, batched on the device.

Every kind of data hands the train script the same two functions: add_arguments(parser)
for its flags, and get_data(args, device, wanted), which returns Data.
"""

from .images import Preprocessing
from .loaders import Data, DataError
from .mnist import add_arguments, get_data

__all__ = ["Data", "DataError", "Preprocessing", "add_arguments", "get_data"]
