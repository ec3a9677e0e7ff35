"""Human side-by-side judging of tuned models (``llmhpo compare``): sample answers of the
candidates, anonymized pairwise votes stored with the study, a Bradley–Terry ranking with
confidence intervals, and an optional LLM judge recorded apart from people."""

from llmhpo.compare.ranking import RankedCandidate, rank_candidates, rank_correlation
from llmhpo.compare.store import add_vote, get_answers, get_votes, set_answers

__all__ = [
    "RankedCandidate",
    "rank_candidates",
    "rank_correlation",
    "add_vote",
    "get_answers",
    "get_votes",
    "set_answers",
]
