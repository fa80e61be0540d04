"""The self-supervised methods: importing this module registers every one. Adding one is a module in this package
plus its name on the import line below."""

from gssd_utils.ssl import byol, simclr  # noqa: F401  (registers them)
from gssd_utils.ssl.base import METHODS, SSLModel, get_method

__all__ = ["METHODS", "SSLModel", "get_method"]
