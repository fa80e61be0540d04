"""Backdoor defenses behind one interface (``base``) and a registry keyed by name (``registry``); their settings
in ``configs``, free of torch."""
