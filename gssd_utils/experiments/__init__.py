"""What the book runs: the run of one attack on one profile (``runs``), the tables built from runs (``tables``,
``ablations``), the looks inside the features (``features``), the notebooks' session (``book``), and the
measurements of the machine (``bench``, ``recipes``)."""
