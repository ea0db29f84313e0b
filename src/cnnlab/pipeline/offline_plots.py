"""`dvc plots show` without internet: the HTML template that .dvc/config names (plots.html_template).

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so offline it stays blank. This
template holds the three scripts inline, taken from the copies that Snakemake (a dependency of
cnnlab) installs for its own reports. DVC fills `{plot_divs}` and `{refresh_tag}`; the template
has no `{scripts}`, so DVC's CDN script tags go nowhere. `make venv` writes it:

    python -m cnnlab.pipeline.offline_plots [PATH]     # default: .dvc/plots/offline.html
"""

import sys
from importlib.resources import files
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.io import atomic_write_text

TEMPLATE = Path(".dvc/plots/offline.html")
# Snakemake's copies (vega 5.21, vega-lite 5.2, vega-embed 6.20: what DVC's page asks the CDN for),
# in the order they need each other.
SCRIPTS = ("vega/vega.js", "vega-lite/vega-lite.js", "vega-embed/vega-embed.js")
PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{refresh_tag}
<title>DVC Plot</title>
<!-- Vega, Vega-Lite and Vega-Embed inline (cnnlab.pipeline.offline_plots): no CDN, works offline -->
SCRIPTS
<style>table { border-spacing: 15px; }</style>
</head>
<body>
{plot_divs}
</body>
</html>
"""


def script(name: str) -> str:
    path = files("snakemake") / "assets" / "data" / name
    try:
        code = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CnnlabError(f"{path}: cannot read Snakemake's copy of {name} ({err.strerror}); "
                          "reinstall snakemake (`make venv`)") from None
    # DVC fills its placeholders by plain replacement, and `</script` would end the tag early
    if "</script" in code or any(p in code for p in ("{plot_divs}", "{refresh_tag}", "{scripts}")):
        raise CnnlabError(f"{path} cannot be put inline in an HTML template; report this as a bug")
    return f"<script>\n{code}\n</script>"


def template_html() -> str:
    return PAGE.replace("SCRIPTS", "\n".join(script(name) for name in SCRIPTS))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else TEMPLATE
    try:
        atomic_write_text(target, template_html())
    except CnnlabError as err:
        print(f"cnnlab: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a missing folder, a read-only or full disk
        print(f"cnnlab: error: {target}: cannot write the template ({err.strerror}); give a writable path",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
