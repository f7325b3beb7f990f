"""The explorers' pure halves: each explorer's controls, as data, and ``render(settings)``,
which returns its summary HTML and its chart as data. Nothing here imports ipywidgets,
matplotlib, numpy or torch, so the same code can run wherever Python does (the notebook's
ipywidgets shell is `bigcompute.widgets`; charts are drawn by `bigcompute.plots.draw`).

One module per explorer family: `parameters` (4.1), `hardware` (2.2 hardware, 2.3 roofline),
`memory` (4.3), `costs` (4.4 training cost, 4.5 scaling), `workloads` (6.1), `reliability`
(8.3), `faq` (9), `planner` (3.6) and `trends` (1.2). `base` holds what they share.
"""

from .base import Chart, Control, Rendered, Spec
from .costs import ScalingSpec, TrainingCostSpec
from .faq import FAQSpec
from .hardware import HardwareSpec, RooflineSpec
from .memory import MemorySpec
from .parameters import ParameterSpec
from .planner import PlannerSpec
from .reliability import ReliabilitySpec
from .trends import TrendSpec
from .workloads import WorkloadSpec

# Every explorer, by the name of its factory in `bigcompute.widgets` (without "_explorer").
SPECS = {"parameter": ParameterSpec, "hardware": HardwareSpec, "roofline": RooflineSpec,
         "memory": MemorySpec, "training_cost": TrainingCostSpec, "scaling": ScalingSpec,
         "workload": WorkloadSpec, "reliability": ReliabilitySpec, "faq": FAQSpec,
         "parallelism_planner": PlannerSpec, "trend": TrendSpec}

__all__ = ["Chart", "Control", "Rendered", "Spec", "SPECS", *(s.__name__ for s in SPECS.values())]
