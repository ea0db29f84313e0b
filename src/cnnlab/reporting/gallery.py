"""One declaration per figure: its file name, its caption and when it applies, next to its drawing.

    FIGURES = Gallery()

    @FIGURES.figure("curves", applies=always, caption="Loss and accuracy per epoch ...")
    def curves_figure(...): ...

`plot_names`, the report's captions and workflow/report/*.rst all read these declarations.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FigureKind:
    name: str  # the PNG's file stem
    caption: str  # shown under the figure in the report and in `snakemake --report`
    applies: Callable[..., bool]  # whether it is drawn, given what the gallery's figures are drawn for
    draw: Callable  # makes the matplotlib Figure


def always(_subject) -> bool:
    return True


class Gallery(dict):
    """Figure kinds by name, in the order the report shows them."""

    @classmethod
    def joined(cls, *galleries: "Gallery") -> "Gallery":
        """One gallery of the figures of several (declared in modules by job), in their order."""
        joined = cls()
        for gallery in galleries:
            for kind in gallery.values():
                joined.add(kind)
        return joined

    def figure(self, name: str, caption: str, applies: Callable[..., bool] = always):
        def declare(draw: Callable) -> Callable:
            self.add(FigureKind(name, caption, applies, draw))
            return draw
        return declare

    def add(self, kind: FigureKind) -> None:
        if kind.name in self:
            raise ValueError(f"figure {kind.name!r} is declared twice")
        self[kind.name] = kind

    def names_for(self, subject) -> list[str]:
        """The figures drawn for `subject` (an experiment's config, or the study figures' inputs)."""
        return [kind.name for kind in self.values() if kind.applies(subject)]
