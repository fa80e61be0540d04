"""Training: the classifier recipe (``config``) and trainer, augmentation, checkpoints, ACC and ASR."""
