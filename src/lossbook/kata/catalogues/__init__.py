"""The katas, one module per lesson; each module registers its katas when it is imported.

A new catalogue is a module here plus one line in `CATALOGUES` (the order in which the katas are
registered, which `lossbook kata list` keeps within each lesson). See CONTRIBUTING.md, "Katas".
"""

from importlib import import_module

CATALOGUES = (
    "custom_losses",  # custom-losses.md
    "metrics",  # metrics.md
    "detection_metrics",  # detection-metrics.md
    "calibration",  # calibration.md
    "simulation_metrics",  # simulation-metrics.md
    "diffusion_basics",  # diffusion-basics.md
    "diffusion_sampling",  # diffusion-sampling.md
    "glossary_alignment",  # glossary/alignment.md
    "glossary_contrastive",  # glossary/contrastive.md
    "glossary_rl",  # glossary/rl.md
    "debugging",  # debugging.md
    "llm_losses",  # llm-losses.md
    "rl_for_llms",  # rl-for-llms.md
)

for _name in CATALOGUES:
    import_module(f"{__name__}.{_name}")
