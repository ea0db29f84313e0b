"""The pipeline's steps, each declared once: the `cnnlab` command it runs, the code it depends on
(cnnlab.results.provenance.STEP_CODE), the keys of params.yaml that shape what it makes, and the DVC
stage that runs it, with what that stage takes and makes.

Snakemake's rules take their commands and code inputs from here (workflow_support.step_command,
code_files); dvc.yaml is written from here (`python -m cnnlab.pipeline.dvc_yaml`; a test checks that
the file in git is the one it writes). Free of torch: every `snakemake` start imports it.
"""

from dataclasses import dataclass, field

from cnnlab.config import RECIPE_DATA_KEYS, STUDY_KEYS
from cnnlab.data.catalog import DATASETS
from cnnlab.results.provenance import STEP_CODE


class Noted(str):
    """A name in the declaration (a parameter, a path) with why it is there: dvc.yaml shows the
    reason as a comment beside it."""

    why: str

    def __new__(cls, text: str, why: str):
        noted = super().__new__(cls, text)
        noted.why = why
        return noted


@dataclass(frozen=True)
class Step:
    """One `cnnlab` command of the pipeline: the Snakemake rule of the same name, part of a DVC stage."""

    name: str
    command: str  # `{dataset}` or `{experiment}`: what it runs for, as each driver names it
    params: tuple[str, ...]  # the keys of params.yaml that shape what it makes (DVC's `params`)

    @property
    def code(self) -> list[str]:
        return STEP_CODE[self.name]


def distinct(items) -> list:
    """`items` in order, each once."""
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class Stage:
    """A stage of dvc.yaml: its steps' commands one after the other, once for each item of
    `foreach` (once without it); `deps` are what it takes besides its steps' code."""

    name: str
    steps: tuple[Step, ...]
    about: str = ""
    foreach: str | list[str] | None = None
    deps: tuple[str, ...] = ()
    outs: dict = field(default_factory=dict)  # path -> DVC's flags for it, as are metrics and plots
    metrics: dict = field(default_factory=dict)
    plots: dict = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The steps' commands as DVC runs them. DVC runs every stage, so a command made for one
        dataset or experiment skips it when the study leaves it out (cnnlab.pipeline.left_out)."""
        skip = " --skip-left-out" if self.foreach else ""
        # `foreach` over a list (the datasets) names the item ${item}; over the experiments, ${key}
        return " && ".join(step.command.format(dataset="${item}", experiment="${key}") + skip
                           for step in self.steps)

    @property
    def code(self) -> list[str]:
        return distinct(path for step in self.steps for path in step.code)

    @property
    def params(self) -> list[str]:
        return distinct(param for step in self.steps for param in step.params)


# Which datasets make up the study: a stage made for a dataset left out builds nothing (a stage of
# its experiments neither), and the report leaves its experiments out.
IN_STUDY = "datasets"
# What decides each run's recipe (cnnlab.config.experiment_config) besides the experiment's own keys.
SHARED_RECIPE = (Noted("defaults", "merged under every experiment"), *STUDY_KEYS, "scales.${scale}",
                 *(f"data.{key}" for key in RECIPE_DATA_KEYS))
RUN_PARAMS = (
    Noted("experiments", "All experiments, not only experiments.${key}: a variant (`base: B`) takes "
          "B's keys, and DVC cannot name B for the experiments that have none. So an edit to any "
          "experiment reruns every runs@ stage, in which `cnnlab train` and `cnnlab evaluate` keep "
          "each current run as it is (under a second of cnnlab's, about 4 s of DVC's own a stage); "
          "the summary and plot stages follow only the runs that changed."),
    *SHARED_RECIPE,
    Noted(IN_STUDY, "in the study or not (--skip-left-out): put back, what is missing is made"),
)
# An experiment's seeds together, and its figures.
SEEDS_TOGETHER_PARAMS = (Noted("experiments.${key}", "its own keys (a change to its base reaches it "
                               "through its runs)"), *SHARED_RECIPE)

STEPS = {step.name: step for step in (
    Step("fetch", "cnnlab fetch {dataset}",
         ("data.verify", Noted(IN_STUDY, "in the study or not (--skip-left-out)"))),
    Step("train", "cnnlab train {experiment}", RUN_PARAMS),
    Step("evaluate", "cnnlab evaluate {experiment}", RUN_PARAMS),
    Step("summarize", "cnnlab summarize {experiment}", SEEDS_TOGETHER_PARAMS),
    Step("plot", "cnnlab plot {experiment}", SEEDS_TOGETHER_PARAMS),
    Step("report", "cnnlab report", (Noted(IN_STUDY, "the experiments the report covers"),
                                     Noted("questions", "the questions it answers"),
                                     Noted("comparisons", "the claims it tables"),
                                     Noted("figures", "the experiments its comparison figures draw"))),
)}

# An experiment's files, in a stage made for each experiment (${key}).
RUNS = "results/${key}/runs"
SUMMARY = "results/${key}/summary.json"
PER_CLASS = "results/${key}/per_class.csv"
CONFUSION = "results/${key}/confusion.csv"
PERSIST = {"persist": True}  # DVC keeps the output between runs instead of deleting it first
UNCACHED = {"cache": False}  # small, and in git

# In the pipeline's order.
STAGES = (
    Stage("fetch", (STEPS["fetch"],), foreach=list(DATASETS),
          about="One stage a dataset of cnnlab.data.catalog.DATASETS. No code deps: a dataset is "
                "known by its content (STEP_CODE['fetch'] is empty).",
          outs={Noted("${data.root}/${item}", "a folder in place is checked, not fetched again"): PERSIST}),
    Stage("runs", (STEPS["train"], STEPS["evaluate"]), foreach="${experiments}",
          about="Every seed of one experiment: results/${key}/runs/seed<k>/. Snakemake runs the same "
                "two commands once per seed (`--seed k`); DVC cannot, as a stage per (experiment, "
                "seed) could not name the experiment's dataset. `cnnlab train` keeps each run already "
                "made with this recipe and code, so one more seed in `seeds` trains that seed alone.",
          deps=("${data.root}/${item.dataset}",),
          outs={Noted(RUNS, "the runs that are current stay (cnnlab train keeps them)"): PERSIST}),
    Stage("summary", (STEPS["summarize"],), foreach="${experiments}", deps=(RUNS,),
          outs={PER_CLASS: {}, CONFUSION: {}},
          metrics={SUMMARY: UNCACHED},
          plots={
              Noted("results/${key}/curves.csv",
                    ".dvc/plots/curves.json draws accuracy and loss of train, val and test per epoch"):
                  {**UNCACHED, "template": "curves", "x": "epoch", "y": "val_acc"},
              "results/${key}/seeds.csv": {**UNCACHED, "x": "seed", "y": "test_acc"},
          }),
    Stage("plot", (STEPS["plot"],), foreach="${experiments}", deps=(RUNS, SUMMARY, PER_CLASS, CONFUSION),
          outs={"results/${key}/plots": {}}),
    Stage("report", (STEPS["report"],),
          deps=(Noted("results", "Everything under results/, so every experiment's stages come "
                      "first. The report's own files (results/summary.csv, figures/, report.html) "
                      "lie inside it too, and DVC forbids a stage's output inside its dependency: "
                      "they are not declared as outputs."),
                "references.yaml")),
)
