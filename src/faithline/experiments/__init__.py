"""The experiments ``faithline demo --experiment NAME`` runs: each is one configuration of the
same trainer, tasks, monitors and paraphrasers a user runs, plus the analysis that reads it.

    hold-the-line   faithline/demo.py: five arms against a monitor the hack can evade
    encoded         experiments/encoded.py: a process monitor on the state words, and what
                    the paraphraser does to the code that replaces them
    faithfulness    faithline/known_answers.py: every faithfulness test on organisms whose
                    faithfulness is known by construction
"""

from faithline.demo import EXPERIMENTS
from faithline.report.tables import TABLES

EXPERIMENTS.register("encoded", "faithline.experiments.encoded:run_encoded",
                     help="a process monitor on the state words: encoded reasoning, and what "
                          "the paraphraser does to it")
TABLES.register("encoded", "faithline.train.seeds:render_arms",
                help="faithline demo --experiment encoded: the arms over seeds, and each minus "
                     "outcome-only")
