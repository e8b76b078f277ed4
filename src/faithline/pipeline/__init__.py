"""CoT pipelines: single model, and Shoggoth -> Paraphraser -> Face; paraphrasers; runs."""

from faithline.pipeline.generate import GenerateConfig, generate
from faithline.pipeline.paraphraser import LLMParaphraser, Paraphraser
from faithline.pipeline.pipelines import (
           SampleFailure,
           Settings,
           ShoggothFacePipeline,
           SinglePipeline,
)

__all__ = ["GenerateConfig", "LLMParaphraser", "Paraphraser", "SampleFailure", "Settings",
           "ShoggothFacePipeline", "SinglePipeline", "generate"]
