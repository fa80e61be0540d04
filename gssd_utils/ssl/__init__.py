"""The self-supervised feature stage that GSSD, DBD and the kNN/energy baseline share: a registry of methods
(``ssl.registry``: SimCLR, BYOL), one trainer (``ssl.train``), one cached stage (``ssl.stage``) and the features it
hands on (``ssl.features``). The profile's ``ssl.method`` picks the method for all of them at once."""
