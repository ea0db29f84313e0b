"""The report's catalogs (src/cnnlab/reporting/messages/<language>.yaml): report.md in English and
report.zh.md in Chinese say the same things in other words.

No training here: the catalogs against each other and against what the code declares in English.
That the two reports of one study show the same numbers is tests/test_questions_report.py's.
"""

import re
from collections import Counter
from string import Formatter

import pytest

from cnnlab import config
from cnnlab.config.study import WHY_LEFT_OUT
from cnnlab.reporting import question_figures, tables
from cnnlab.reporting.experiment_figures import FIGURES
from cnnlab.reporting.language import messages
from cnnlab.reporting.questions import question_title
from cnnlab.reporting.references import REFERENCE_KINDS
from cnnlab.reporting.report import MARKDOWN_FILES
from cnnlab.reporting.study_figures import STUDY_FIGURES
from test_config import PARAMS

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # 98.95, 3,920, 1x1's ones: digits with their separators
# What Chinese translates by name, where English keeps the words beside what they name (and
# recipe.keys: any key without words reads as its name, in every language).
TRANSLATIONS = ("captions", "verdicts", "reference_kinds", "left_out", "recipe.keys")
VERDICTS = (tables.REPRODUCED, tables.BELOW, tables.ABOVE, tables.ONE_SEED, tables.NOT_COMPARABLE,
            tables.NO_REFERENCE)
# The handout's own wording of the lab's four questions (STUDY.md quotes it), by question number.
HANDOUT = {"q1": "dataloader 里面 shuffle 取不同值有什么区别?",
           "q2": "transform 里,取了不同值,这个有什么区别?",
           "q3": "epoch 和 batch 的区别?",
           "q4": "1x1的卷积和 FC 有什么区别?主要起什么作用?"}


def entries(catalog: dict, prefix: str = "") -> dict[str, str]:
    """The catalog's entries by dotted key; a count (singular and plural) is one entry."""
    found = {}
    for key, value in catalog.items():
        if isinstance(value, dict) and not prefix.startswith("counts"):
            found |= entries(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found


def fields(entry) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for _, name, _, _ in Formatter().parse(text) if name}


def numbers(entry) -> Counter:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return Counter(n for text in texts for n in NUMBER.findall(text))


def translated(key: str) -> bool:
    return key.startswith(tuple(f"{section}." for section in TRANSLATIONS))


def test_every_language_of_the_report_has_its_catalog():
    assert list(MARKDOWN_FILES) == ["en", "zh"] and MARKDOWN_FILES["en"] == "report.md"
    assert all(messages(language).language == language for language in MARKDOWN_FILES)


def test_chinese_has_every_english_entry_with_the_same_fields_and_numbers():
    """A sentence added to one catalog is added to the other; a field a translation forgets would
    drop a number, one it invents would fail as the report is written, and a digit written into a
    sentence would show in one report only."""
    english, chinese = entries(messages("en").entries), entries(messages("zh").entries)
    assert set(english) - set(chinese) == set()
    assert {key for key in set(chinese) - set(english) if not translated(key)} == set()
    for key, text in english.items():
        assert fields(chinese[key]) == fields(text), key
        assert numbers(chinese[key]) == numbers(text), key


def test_chinese_translates_every_name_the_code_declares_in_english():
    chinese = messages("zh")
    english_captions = {kind.name: kind.caption for kind in [*FIGURES.values(), *STUDY_FIGURES.values()]}
    english_captions |= question_figures.CAPTIONS
    declared = {"captions": english_captions, "verdicts": {v: v for v in VERDICTS},
                "reference_kinds": REFERENCE_KINDS, "left_out": WHY_LEFT_OUT}
    for section, english in declared.items():
        assert set(chinese.entries[section]) == set(english), section
        for name, text in english.items():
            words = chinese.get(section, name, "")
            assert fields(words) == fields(text) and numbers(words) == numbers(text), (section, name)
            assert re.search(r"[\u4e00-\u9fff]", words), (section, name)  # not left in English


def test_english_keeps_those_names_where_the_code_declares_them():
    english = messages("en")
    assert not set(english.entries) & set(TRANSLATIONS)
    assert english.get("verdicts", tables.REPRODUCED, tables.REPRODUCED) == tables.REPRODUCED


def test_a_count_is_singular_for_one_in_english_and_the_same_form_in_chinese():
    english, chinese = messages("en"), messages("zh")
    assert (english.count("seeds", 1), english.count("seeds", 2)) == ("1 seed", "2 seeds")
    assert (chinese.count("seeds", 1), chinese.count("seeds", 2)) == ("1 个种子", "2 个种子")


@pytest.mark.parametrize("qid", list(config.load_params(PARAMS)["questions"]))
def test_the_labs_questions_are_headed_with_the_handouts_own_wording(qid):
    question = config.load_params(PARAMS)["questions"][qid]
    assert question["title_zh"].startswith(HANDOUT[qid.split("_")[0]])
    assert numbers(question["title"]) - numbers(question["title_zh"]) == Counter()  # its numbers kept


def test_a_question_without_a_chinese_title_keeps_its_own_in_the_chinese_report():
    own = {"title": "Adam or plain SGD?", "base": "lenet5_mnist", "variants": ["lenet5_mnist_sgd"]}
    assert question_title(own, messages("zh")) == "Adam or plain SGD?"
    assert question_title({**own, "title_zh": "Adam 还是普通 SGD?"}, messages("zh")) == "Adam 还是普通 SGD?"
    assert question_title({**own, "title_zh": "Adam 还是普通 SGD?"}, messages("en")) == "Adam or plain SGD?"
