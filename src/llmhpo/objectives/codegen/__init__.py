"""The ``codegen`` objective: LLM-written training scripts run in a sandbox."""

from llmhpo.objectives.codegen.objective import CodegenObjective, default_space, from_config
from llmhpo.objectives.codegen.sandbox import SandboxLimits, SandboxResult, run_sandboxed

__all__ = ["CodegenObjective", "default_space", "from_config", "SandboxLimits",
           "SandboxResult", "run_sandboxed"]
