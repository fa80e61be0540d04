"""Figures shared by the notebooks: one module per book section."""

from gssd_utils.plots.attacks import attack_gallery
from gssd_utils.plots.comparison import comparison_figure
from gssd_utils.plots.curves import norm_path_figure, stage_curves_figure
from gssd_utils.plots.detection import class_statistics, poisoning_scores_figure, v_histograms
from gssd_utils.plots.features import feature_map, loss_curves
from gssd_utils.plots.flows import loglik_heatmap
from gssd_utils.plots.recipes import recipe_curves
from gssd_utils.plots.sweeps import sweep_figure

__all__ = ["attack_gallery", "class_statistics", "comparison_figure", "feature_map", "loglik_heatmap", "loss_curves",
           "norm_path_figure", "poisoning_scores_figure", "recipe_curves", "stage_curves_figure", "sweep_figure",
           "v_histograms"]
