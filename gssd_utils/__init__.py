"""gssd_utils: the library behind the GSSD reproducibility book.

The notebooks only set parameters, call into this package and display; every piece of logic lives here,
where it is tested.
"""

__version__ = "0.1.0"
