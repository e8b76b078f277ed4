"""CoT pipelines: single model, and Shoggoth -> Paraphraser -> Face; paraphrasers; runs."""

from faithline.pipeline.canonicalizer import Canonicalizer
from faithline.pipeline.generate import GenerateConfig, generate
from faithline.pipeline.paraphrase_llm import (
    ContextAwareParaphraser,
    LLMParaphraser,
    Paraphrase,
    Paraphraser,
)
from faithline.pipeline.paraphrase_specs import get_paraphraser
from faithline.pipeline.pipelines import (
    SampleFailure,
    Settings,
    ShoggothFacePipeline,
    SinglePipeline,
)

__all__ = [
    "Canonicalizer",
    "ContextAwareParaphraser",
    "GenerateConfig",
    "LLMParaphraser",
    "Paraphrase",
    "Paraphraser",
    "SampleFailure",
    "Settings",
    "ShoggothFacePipeline",
    "SinglePipeline",
    "generate",
    "get_paraphraser",
]

from faithline.config import COMMANDS

COMMANDS.register("generate", "faithline.pipeline.cli:install_generate")
COMMANDS.register("paraphrase", "faithline.pipeline.cli:install_paraphrase")
