"""The LLM optimizer against a real OpenAI-compatible server on 127.0.0.1 (scripted answers and
fault modes) and against a tiny random LLaMA run locally with constrained decoding."""

from __future__ import annotations

import json
import math

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers.llm import LLMOptimizer
from llmhpo.optimizers.llm.prompts import Entry, build_messages
from llmhpo.optimizers.llm.schema import AnswerError, config_schema, read_answer
from llmhpo.space import Categorical, Float, Int, PowerOfTwo, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite, continuous_space, mixed_space

pytest.importorskip("openai")

from llm_server import MODEL, ScriptedLLMServer  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with ScriptedLLMServer() as srv:
        yield srv


def _opt(server, space=None, **kw):
    kw.setdefault("seed", 0)
    kw.setdefault("timeout", 5.0)
    return LLMOptimizer(space or continuous_space(), backend="openai", model=MODEL,
                        base_url=server.url, **kw)


class TestLLMOnServer(OptimizerSuite):
    """The conformance suite, the answers coming from the loopback server."""

    @pytest.fixture
    def factory(self, server):
        server.faults.clear()
        return lambda space, seed: _opt(server, space, seed=seed, budget=12)


# ----- schema, parsing, prompts ------------------------------------------------------------
def test_schema_and_answer_validation():
    space = SearchSpace([
        Float("C", 1e-3, 1e3, log=True, default=1.0).describe("regularization parameter"),
        Int("depth", 1, 50), PowerOfTwo("rank", 4, 64), Categorical("opt", ["adamw", "sgd"]),
    ])
    schema = config_schema(space)
    assert schema["required"] == ["C", "depth", "rank", "opt"]
    assert schema["properties"]["rank"]["enum"] == [4, 8, 16, 32, 64]
    params, analysis = read_answer(
        'Analysis first. {"analysis": "go low", "config": {"C": 0.5, "depth": 3.0, '
        '"rank": 16, "opt": "sgd"}}', space)
    assert params == {"C": 0.5, "depth": 3, "rank": 16, "opt": "sgd"} and analysis == "go low"
    with pytest.raises(AnswerError, match="rank.*power of two") as err:
        read_answer('```json\n{"C": 0.5, "depth": 3, "rank": 12, "opt": "sgd", "x": 1}\n```',
                    space)
    assert "unknown key(s) ['x']" in str(err.value)
    with pytest.raises(AnswerError, match="no JSON object"):
        read_answer("try a larger C", space)
    msgs = build_messages(space, [], mode="compressed", cot=False, expert=True,
                          task="an SVM on wine", budget=10)
    assert msgs[0] == {"role": "system", "content": "You are a machine learning expert."}
    text = msgs[1]["content"]
    assert "You are helping tune hyperparameters for an SVM on wine." in text
    assert ("C, regularization parameter. Type: UniformFloat, Range: [0.001, 1000.0], "
            "Default: 1.0, on log-scale") in text
    assert "We have a budget to try 10 configurations in total." in text
    assert text.endswith('Example config: {"C": x, "depth": y, "rank": z, "opt": u} Config:')


def test_chat_and_compressed_history_with_failures_and_pending():
    space = continuous_space()
    hist = [Entry({"x1": 1.0, "x2": 2.0}, "done", 0.12345, answer='{"x1": 1.0, "x2": 2.0}'),
            Entry({"x1": 0.0, "x2": 0.0}, "failed", error="Traceback\nValueError: diverged"),
            Entry({"x1": 3.0, "x2": 3.0}, "pending")]
    chat = build_messages(space, hist, mode="chat", cot=False, expert=False, task=None,
                          budget=4)
    assert [m["role"] for m in chat] == ["user"] + ["assistant", "user"] * 3
    assert chat[2]["content"].startswith("loss = 1.2345e-01. Specify the next config")
    assert "The training run failed: ValueError: diverged" in chat[4]["content"]
    assert chat[5]["content"] == '{"x1": 3.0, "x2": 3.0}'  # not the model's: shown as JSON
    assert chat[6]["content"].startswith("(That config was chosen for you.) This config is "
                                         "being evaluated. This is the last try.")
    comp = build_messages(space, hist, mode="compressed", cot=True, expert=False, task=None,
                          budget=10)
    assert len(comp) == 1
    assert '{"x1": 3.0, "x2": 3.0}: being evaluated' in comp[0]["content"]
    assert '"analysis"' in comp[0]["content"]


# ----- server fault modes -----------------------------------------------------------------
def test_retries_on_429_and_500_then_answers(server):
    server.faults[:] = ["429", "500"]
    n0 = len(server.chat_requests)
    s = _opt(server, max_retries=3).ask(1)[0]
    assert len(server.chat_requests) - n0 == 3  # two retried errors, one answer
    assert s.attrs["proposal"] == "llm" and s.attrs["llm_queries"] == 1
    assert s.attrs["llm_tokens_in"] > 0 and s.attrs["llm_tokens_out"] > 0


def test_timeout_malformed_garbage_and_out_of_range_are_repaired(server):
    server.faults[:] = ["timeout", "malformed", "garbage", "out_of_range"]
    server.sleep_s = 1.5
    opt = _opt(server, timeout=0.5, max_retries=0, repair_tries=4)
    s = opt.ask(1)[0]
    log = s.attrs["llm_log"]
    assert [e["response"] is None for e in log] == [True, True, False, False, False]
    assert "Timeout" in log[0]["error"] and "malformed" in log[1]["error"].lower() or \
        "JSON" in log[1]["error"]
    assert s.attrs["proposal"] == "repaired"
    # the model was told what was wrong with its answers
    repairs = [m["content"] for m in log[-1]["messages"] if m["content"].startswith(
        "That answer cannot be used")]
    assert any("no JSON object" in r for r in repairs)
    assert any("expected a number in [-5.0, 5.0]" in r for r in repairs)
    assert continuous_space().contains(s.params)


def test_no_usable_answer_gives_a_recorded_fallback(server):
    server.faults[:] = ["garbage"] * 3
    s = _opt(server, repair_tries=2).ask(1)[0]
    assert s.attrs["proposal"] == "fallback"
    assert "no usable answer" in s.attrs["fallback_reason"]
    assert s.attrs["llm_queries"] == 3 and "llm_answer" not in s.attrs
    assert continuous_space().contains(s.params)


def test_server_refusing_json_schema_gets_free_text(server):
    server.faults[:] = ["refuse_schema"]
    server.schema_hint = config_schema(continuous_space())  # what a model without JSON mode knows
    opt = _opt(server)
    s = opt.ask(1)[0]
    server.schema_hint = None
    assert s.attrs["proposal"] == "llm"
    assert s.attrs["llm_log"][0]["response_format"] is None
    assert s.attrs["llm_answer"].startswith("Sure! Here is the next config")
    assert "response_format" not in server.chat_requests[-1]["body"]


def test_batch_lists_pending_and_gives_distinct_points(server):
    server.faults.clear()
    opt = _opt(server, mixed_space(), budget=10)
    sugg = opt.ask(3)
    assert len({mixed_space().key(s.params) for s in sugg}) == 3
    last = sugg[2].attrs["llm_log"][0]["messages"][-1]["content"]
    assert last.count(": being evaluated") == 2


def test_failure_text_reaches_the_prompt(server):
    opt = _opt(server, mode="chat", budget=5)
    s = opt.ask(1)[0]
    opt.tell(s, None, error="Traceback ...\nRuntimeError: CUDA out of memory")
    s2 = opt.ask(1)[0]
    assert ("The training run failed: RuntimeError: CUDA out of memory"
            in s2.attrs["llm_log"][0]["messages"][-1]["content"])


def test_token_budget_stops_queries(server):
    opt = _opt(server, max_total_tokens=1)
    s = opt.ask(1)[0]
    assert s.attrs["llm_queries"] == 1  # the first query spends the budget
    s2 = opt.ask(1)[0]
    assert s2.attrs["proposal"] == "fallback" and s2.attrs["llm_queries"] == 0
    assert "token budget spent" in s2.attrs["fallback_reason"]


def test_cost_from_prices(server):
    s = _opt(server, price_input=2.0, price_output=10.0).ask(1)[0]
    a = s.attrs
    assert math.isclose(a["llm_cost"], (a["llm_tokens_in"] * 2 + a["llm_tokens_out"] * 10) / 1e6)


def test_preflight_errors():
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    opt = LLMOptimizer(continuous_space(), backend="openai", model="m",
                       base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(InvalidConfigError, match="cannot reach the OpenAI-compatible server"):
        opt.preflight()
    with pytest.raises(InvalidConfigError, match="backend must be"):
        LLMOptimizer(continuous_space(), backend="nope")
    with pytest.raises(InvalidConfigError, match="mode must be"):
        LLMOptimizer(continuous_space(), mode="nope")


def test_preflight_unknown_model(server):
    opt = LLMOptimizer(continuous_space(), backend="openai", model="gpt-99", base_url=server.url)
    with pytest.raises(InvalidConfigError, match="no model 'gpt-99'.*scripted-llm"):
        opt.preflight()
    _opt(server).preflight()


def test_replayed_prompt_is_not_asked_again(server):
    server.faults.clear()
    a = _opt(server, budget=6)
    s = a.ask(1)[0]
    n0 = len(server.chat_requests)
    b = _opt(server, budget=6)
    b.recall(s.attrs)  # what a resumed study does with a trial that was running
    s_b = b.ask(1)[0]
    assert len(server.chat_requests) == n0
    assert s_b.params == s.params and s_b.attrs["llm_log"][0]["replayed"] is True
    assert s_b.attrs["llm_queries"] == 0


# ----- the local backend: a tiny random LLaMA with xgrammar-constrained decoding --------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    pytest.importorskip("xgrammar")
    from objectives.lora_tiny import make_tiny_llama, make_tokenizer

    tok = make_tokenizer()
    d = tmp_path_factory.mktemp("tiny_llm_optimizer")
    make_tiny_llama(tok).save_pretrained(str(d))
    tok.save_pretrained(str(d))
    return str(d)


def test_local_constrained_answers_are_valid_and_deterministic(tiny_model):
    space = SearchSpace([Float("x", 0.0, 1.0), Categorical("opt", ["a", "b"])])
    runs = []
    for _ in range(2):
        opt = LLMOptimizer(space, model=tiny_model, seed=1, repair_tries=0, max_tokens=40)
        s = opt.ask(1)[0]
        runs.append((s.params, s.attrs["llm_answer"]))
        assert s.attrs["proposal"] == "llm"  # a random model, but the grammar makes it valid
        assert json.loads(s.attrs["llm_answer"]).keys() == {"x", "opt"}
        assert s.attrs["llm_log"][0]["response_format"] == "grammar"
        assert s.attrs["llm_tokens_out"] <= 40
    assert runs[0] == runs[1]


# ----- LLM-initialized BO and TPE ------------------------------------------------------------
@pytest.mark.parametrize("name,init_key", [("bo", "n_init"), ("tpe", "n_startup_trials")])
def test_bo_and_tpe_with_llm_init(server, name, init_key):
    from llmhpo.optimizers import make_optimizer
    from llmhpo.testing.optimizer_suite import toy_loss

    server.faults.clear()
    llm = {"backend": "openai", "model": MODEL, "base_url": server.url, "budget": 6}
    kw = {init_key: 3, "init": "llm", "llm": llm}
    if name == "bo":
        kw.update(num_restarts=2, raw_samples=64)
    space = continuous_space()
    a = make_optimizer(name, space, seed=4, **kw)
    seen = []
    for _ in range(5):
        (s,) = a.ask(1)
        seen.append(s)
        a.tell(s, toy_loss(a, s.x))
    assert [s.attrs.get("proposal") for s in seen[:3]] == ["llm"] * 3
    assert all(s.attrs["phase"] == "init" for s in seen[:3])
    assert all("proposal" not in s.attrs for s in seen[3:])  # the model-based phase
    # the first LLM prompt lists nothing; the third lists the first two results
    assert seen[2].attrs["llm_log"][0]["messages"][-1]["content"].count("loss = ") == 2
    # replay (resume) continues identically, and the config rebuilds the optimizer
    b = make_optimizer(name, space, seed=4, **kw)
    for o in a.observations[:2]:
        b.tell_not_asked(o.params, o.value, o.attrs)
    assert b.ask(1)[0].params == seen[2].params
    cfg = dict(a.get_config())
    assert cfg["init"] == "llm" and cfg["llm"]["base_url"] == server.url


def test_bench_contenders_are_opt_in_variants():
    from llmhpo.bench.peers import all_contenders, make_contender

    assert {"llm", "llm-chat", "llm-compressed", "bo-llm"} <= set(all_contenders())
    assert not {"llm", "llm-chat", "bo-llm"} & set(all_contenders(opt_in=False))
    space = continuous_space()
    run = make_contender("llm-chat", space, 0, 10, task="svm-wine")
    assert run.opt.mode == "chat" and run.opt.budget == 10  # type: ignore[attr-defined]
    assert "on the wine dataset" in run.opt.task  # type: ignore[attr-defined]
    run = make_contender("bo-llm", space, 0, 30, task="branin")
    assert run.opt.init == "llm" and run.opt.n_init == 10  # type: ignore[attr-defined]
    assert "branin" not in run.opt.llm_options["task"]  # type: ignore[attr-defined]
