# The whole study: the summary tables, the figures across experiments and the HTML report.


rule report:
    input:
        expand("results/{exp}/metrics.json", exp=STUDY),
        expand("results/{exp}/plots", exp=STUDY),
        references="references.yaml",
        code="src/cnnlab/report.py",
    output:
        summary="results/summary.csv",
        reproduction="results/reproduction.csv",
        figures=directory("results/figures"),
        html="results/report.html",
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/report.log",
    shell:
        "cnnlab report 2>&1 | tee {log}"
