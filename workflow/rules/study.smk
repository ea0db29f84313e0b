# The whole study: the summary tables, the paired comparisons, the figures across experiments, the
# HTML report and its Markdown write-up.


rule report:
    input:
        lambda wc: FRESHNESS.inputs(("report",), [
            *expand("results/{exp}/summary.json", exp=STUDY), *expand("results/{exp}/plots", exp=STUDY),
            "references.yaml", *code_files("report")]),
    output:
        # report(): what `snakemake --report report.html` shows, with captions from workflow/report/
        summary=report("results/summary.csv", caption="../report/summary.rst", category="Study"),
        reproduction=report(
            "results/reproduction.csv", caption="../report/reproduction_table.rst", category="Study"
        ),
        comparisons="results/comparisons.csv",
        figures=report(
            directory("results/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Study",
            labels={"figure": "{name}"},
        ),
        html=report("results/report.html", caption="../report/report.rst", category="Study"),
        # the write-up to hand in: the answers, the reproduction table, figures linked relative to results/
        markdown="results/report.md",
        # the same in Chinese, the course's language (the figures shared, their captions translated)
        markdown_zh="results/report.zh.md",
    conda:
        "../envs/cnnlab.yaml"
    log:
        "logs/report.log",
    shell:
        step_command("report") + " 2>&1 | tee {log}"
