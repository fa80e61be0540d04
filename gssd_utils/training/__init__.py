"""Classifier training and the ACC/ASR metrics."""

from gssd_utils.training.classifier import TrainConfig, train_classifier
from gssd_utils.training.metrics import accuracy, attack_success_rate, predict

__all__ = ["TrainConfig", "accuracy", "attack_success_rate", "predict", "train_classifier"]
