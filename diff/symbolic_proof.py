"""The faithfulness proofs and the copy lemma: a contract, run by CrossHair, and its verdict."""

from dataclasses import dataclass, replace
from typing import Optional, Tuple

from wpdiff.impl.wordfault import run as run_model

from .report import Verdict
from .symbolic_contract import contract_source, word_of_call
from .symbolic_cut import lemma_source
from .symbolic_run import _FALSE, _crosshair, _last, _verdict
from .targets import Target


@dataclass(frozen=True)
class Proof:
    """A faithfulness proof's result: CrossHair's verdict, a word on which
    the two differ (or None), seconds, CrossHair's last line, and whether
    the fast path was proved up to wp_page_copy() (`cut`) or whole."""

    verdict: Verdict
    word: Optional[int]
    seconds: float
    last: str
    cut: bool


def check_faithfulness(target: Target, budget: float, cut: Optional[bool] = None) -> Proof:
    """Run crosshair on the target's contract.  A built-in fast path is
    proved up to wp_page_copy() unless `cut` is False; its verdict holds for
    the whole fast path only with the copy lemma's."""
    cut = target.builtin if cut is None else cut
    out, seconds, code = _crosshair(contract_source(target, cut), "faithful", budget)
    verdict = _verdict(out, code, f"the faithfulness proof of {target.name}", target)
    if verdict is not Verdict.DIVERGENCE:
        return Proof(verdict, None, seconds, _last(out, code), cut)
    word = word_of_call(target.era, _FALSE.search(out).group(2))
    if cut and target.fast(word) == run_model(target.era, word):
        # The two enter wp_page_copy() differently but end the same (the copy
        # overwrites what differed): only the whole functions can say.
        whole = check_faithfulness(target, budget, cut=False)
        return replace(whole, seconds=seconds + whole.seconds)
    return Proof(verdict, word, seconds, _last(out, code), cut)



def check_copy_lemma(era_id: str, budget: float) -> Tuple[Verdict, float, str]:
    """CrossHair on the copy lemma for `era_id`'s page-flag numbering: (verdict, seconds, last line)."""
    out, seconds, code = _crosshair(lemma_source(era_id), "copy_lemma", budget)
    return _verdict(out, code, f"the wp_page_copy() lemma for {era_id}"), seconds, _last(out, code)


