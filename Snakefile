# The study as a Snakemake workflow: `snakemake --cores 1 all` (see README.md).
# Every rule runs one `cnnlab` command, the same one that dvc.yaml's stage of the same name runs;
# params.yaml is the catalog for both. After each run, what Snakemake built is recorded in dvc.lock.

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from cnnlab.config import load_params
from cnnlab.errors import CnnlabError

min_version("9.0")


def checked(function, *args, **kwargs):
    """function(*args, **kwargs); a problem cnnlab finds stops Snakemake with cnnlab's one-line
    message (as the `cnnlab` command prints it) and no traceback of cnnlab's."""
    try:
        return function(*args, **kwargs)
    except CnnlabError as err:
        raise WorkflowError(f"cnnlab: error: {err}") from None


# cnnlab's strict reader checks params.yaml first (duplicate keys, aliases, nesting, size, types),
# so that Snakemake's own parse below only ever sees a file that cnnlab accepts.
PARAMS_FILE = checked(load_params, "params.yaml")  # what cnnlab itself reads in every job


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/study.smk"


localrules:
    all,
    fetch,  # downloads: on the machine with the network, not on a cluster node


rule all:
    input:
        expand("results/{exp}/metrics.json", exp=STUDY),
        expand("results/{exp}/plots", exp=STUDY),
        "results/report.html",


onsuccess:
    record_in_dvc()


onerror:
    record_in_dvc()  # with --keep-going, keep what did finish
