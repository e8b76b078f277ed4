"""The experiments ``faithline demo --experiment NAME`` runs: each is one configuration of the
same trainer, tasks, monitors and paraphrasers a user runs, plus the analysis that reads it.

    hold-the-line   faithline/demo.py: five arms against a monitor the hack can evade
    encoded         experiments/encoded.py: a process monitor on the state words, and what
                    the paraphraser does to the code that replaces them
    faithfulness    faithline/known_answers.py: every faithfulness test on organisms whose
                    faithfulness is known by construction
"""

from faithline.demo import EXPERIMENTS

EXPERIMENTS.register("encoded", "faithline.experiments.encoded:run_encoded",
                     help="a process monitor on the state words: encoded reasoning, and what "
                          "the paraphraser does to it")
