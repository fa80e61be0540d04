"""Other cleansing defenses, run on the same self-supervised features as GSSD for a like-for-like comparison."""
