"""The reporting wing: what the study shows of its results.

- gallery.py: how a figure is declared (name, caption, when it applies), once.
- style.py: what every figure shares (look, image grids, saving at DPI).
- experiment_figures.py: `cnnlab plot EXP`, one experiment's figures: its charts there, its images
  in experiment_images.py, both drawn from experiment_inputs.py (the files read and checked).
- study_figures.py: the comparisons across experiments; comparison_marks.py draws one comparison's
  marks (a reproduction line, an MLP/CNN pair per seed) for them.
- references.py: references.yaml, the published numbers.
- tables.py: summary.csv and reproduction.csv (the verdicts).
- intervals.py: a mean's interval and a paired difference as text, never beyond what they can be.
- overview.py: the report's header (how many experiments, which are missing).
- questions.py: the lab's questions answered; conclusions.py (the rules of an answer's conclusion),
  reasons.py (the measured facts of its reason), changes.py (a variant named by what it changes),
  question_figures.py (its figure).
- page.py: what results/report.html shows, rendered by templates/report.html.j2 (Jinja2);
  markdown.py: results/report.md.
- report.py: `cnnlab report`, which makes the tables, the study figures and the page.
- captions.py: the captions of `snakemake --report` (workflow/report/*.rst), made from the declarations.

Results are read through cnnlab.results.records (the results contract), never by hand.
"""

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
