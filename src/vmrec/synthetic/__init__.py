"""Synthetic KuaiRec 2.0 with planted ground truth.

`generate()` writes the seven KuaiRec 2.0 CSVs in the exact release formats
(docs/data.md, "The release's files") plus `truth/` (contracts.TRUTH_*): the true head probabilities of
every small cell and every big row, the candidate pools of the logged sessions and the planted value
model of the logging policy (docs/data.md, "The synthetic world").

The modules, in the order `generate` uses them:

  clock        local (Beijing) time, the days the logs cover, the hour-of-day profile
  world        users, videos and their parameters (`make_world`, SCALES)
  behaviour    the behaviour model: play durations and true head probabilities (`head_probs`)
  policy       the logging policy of big_matrix: sessions, candidate pools, ranking
  small_block  small_matrix, the fully observed block
  writers      the interaction CSVs in the release's formats (`float_repr`) and its big_matrix quirks
  side_files   social_network, user_features, item_categories, item_daily_features, captions
  truth        truth/: true probabilities and truth.json (GENERATOR_VERSION)
  platform     the platform world (`synthetic.world: platform`): the policy's own heads, personalised
               retrieval, item daily statistics from the logged views, nonlinear affinity, position and
               fatigue
  generator    `generate`: all of the above, written atomically
"""

from vmrec.contracts import N_TAGS
from vmrec.synthetic.behaviour import LABEL_THRESHOLDS, head_probs, label_cutoffs, loop_scale, platform_rates
from vmrec.synthetic.clock import local_hour
from vmrec.synthetic.generator import generate
from vmrec.synthetic.truth import GENERATOR_VERSION, interaction_stats
from vmrec.synthetic.world import SCALES, WORLDS, ScaleSpec, World, make_world
from vmrec.synthetic.writers import float_repr

__all__ = [
    "GENERATOR_VERSION",
    "LABEL_THRESHOLDS",
    "N_TAGS",
    "SCALES",
    "ScaleSpec",
    "WORLDS",
    "World",
    "float_repr",
    "generate",
    "head_probs",
    "interaction_stats",
    "label_cutoffs",
    "local_hour",
    "loop_scale",
    "make_world",
    "platform_rates",
]
