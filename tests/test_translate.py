"""Connected mode, question translation: the real ``openai`` client against a loopback
OpenAI-compatible server. Translations add retrieval evidence; failures are reported and the
offline evidence stays."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from openai_server import serve

from rag import prompts
from rag.config import LLMSettings, Settings, from_env
from rag.engine import Engine, answer_to_dict
from rag.errors import ConfigError
from rag.retrieval import Filters

# Our own translations of test questions, as a good model would give them.
TRANSLATIONS = {
    "What did Erdogan ask Putin about Idlib?": {
        "fa": "اردوغان درباره ادلب از پوتین چه درخواستی کرد؟",
        "ar": "ماذا طلب أردوغان من بوتين بشأن إدلب؟",
    },
    "پوتین و اردوغان درباره ادلب چه گفتند؟": {
        "en": "What did Putin and Erdogan say about Idlib?",
        "ar": "ماذا قال بوتين وأردوغان عن إدلب؟",
    },
    "ماذا قال بوتين وأردوغان عن إدلب؟": {
        "en": "What did Putin and Erdogan say about Idlib?",
        "fa": "پوتین و اردوغان درباره ادلب چه گفتند؟",
    },
}


def _question(messages: list[dict[str, Any]]) -> str:
    user = next(m["content"] for m in messages if m["role"] == "user")
    match = re.search(r"<<<\n(.*)\n>>>", user, re.DOTALL)
    assert match, user
    return match.group(1)


def good_model(messages: list[dict[str, Any]]) -> str:
    return json.dumps(TRANSLATIONS[_question(messages)], ensure_ascii=False)


def _connected(settings: Settings, base_url: str, **llm: Any) -> Settings:
    return replace(
        settings,
        llm=replace(
            LLMSettings(), base_url=base_url, max_retries=0, timeout=5, **{"answers": False, **llm}
        ),
    )


@pytest.mark.parametrize("question", list(TRANSLATIONS))
def test_translations_join_retrieval(built_index: Settings, question: str) -> None:
    with serve(good_model) as fake, Engine(_connected(built_index, fake.base_url)) as engine:
        answer = engine.ask(question)
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request["model"] == "gpt-4o-mini" and request["temperature"] == 0
    assert question in request["messages"][1]["content"]
    assert dict(answer.translations) == TRANSLATIONS[question]
    assert not answer.warnings
    assert not answer.abstained
    # Passages in the translated languages matched words of the translation, and say so.
    via_translation = {h.chunk.lang for h in answer.hits for _, how, _ in h.matched}
    assert "translation" in {how for h in answer.hits for _, how, _ in h.matched}
    assert via_translation - {answer.question_lang}
    data = answer_to_dict(answer)
    assert data["translations"] == TRANSLATIONS[question] and data["warnings"] == []


def test_translation_brings_other_languages_up(built_index: Settings) -> None:
    """Restricted to Persian and Arabic, the translated question ranks higher than offline."""
    question = "What did Erdogan ask Putin about Idlib?"
    only = Filters(("fa", "ar"))
    with Engine(built_index) as offline:
        base = offline.search(question, k=13, filters=only)
    with serve(good_model) as fake, Engine(_connected(built_index, fake.base_url)) as engine:
        hits = engine.search(question, k=13, filters=only)
    assert {h.chunk.lang for h in hits} == {"fa", "ar"}
    assert any(h.score > 0 for h in hits)
    # The top passage now carries words of the translation, not only names.
    assert any(how == "translation" for _, how, _ in hits[0].matched), hits[0].matched
    assert [h.chunk.chunk_id for h in hits] != [h.chunk.chunk_id for h in base] or all(
        any(how == "translation" for _, how, _ in h.matched) for h in hits[:2]
    )


@pytest.mark.parametrize(
    ("reply", "fail_with", "warning"),
    [
        (lambda m: "Sure! Here you go.", None, "not JSON"),
        (lambda m: json.dumps({"fa": "What did Erdogan ask?"}), None, "not in that language"),
        (lambda m: json.dumps({"fa": "سلام"}), None, "no Arabic"),
        (lambda m: "{}", 500, "not translated"),
    ],
)
def test_bad_model_is_reported_and_offline_evidence_stays(
    built_index: Settings, reply: Any, fail_with: int | None, warning: str
) -> None:
    question = "What did Erdogan ask Putin about Idlib?"
    with Engine(built_index) as offline:
        base = offline.ask(question)
    with serve(reply) as fake:
        fake.fail_with = fail_with
        with Engine(_connected(built_index, fake.base_url)) as engine:
            answer = engine.ask(question)
    assert any(warning in w for w in answer.warnings), answer.warnings
    assert not answer.abstained
    assert {c.chunk_id for c in base.citations} <= {h.chunk.chunk_id for h in answer.hits}


def test_weak_translation_cannot_push_out_offline_evidence(built_index: Settings) -> None:
    """A fluent but wrong translation adds a leg; the offline ranking's best half stays."""
    question = "What did Erdogan ask Putin about Idlib?"
    wrong = {"fa": "هوا امروز در تهران آفتابی است", "ar": "الطقس مشمس اليوم في القاهرة"}
    with Engine(built_index) as offline:
        base = offline.search(question, k=5)
    reply = json.dumps(wrong, ensure_ascii=False)
    with serve(lambda m: reply) as fake, Engine(_connected(built_index, fake.base_url)) as engine:
        hits = engine.search(question, k=5)
    assert {h.chunk.chunk_id for h in base[:3]} <= {h.chunk.chunk_id for h in hits}


def test_offline_engine_opens_no_client(built_index: Settings) -> None:
    with Engine(built_index) as engine:
        assert engine.translator is None
        assert engine.translate("What did Erdogan ask Putin?").texts == {}
        assert engine.mode_label.startswith("offline")


def test_settings_take_the_openai_variables() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-test"}
    llm = from_env(env).llm
    assert llm.connected and llm.base_url == env["OPENAI_BASE_URL"] and llm.api_key == "sk-test"
    assert "sk-test" not in repr(llm)
    assert not from_env({}).llm.connected
    own = from_env(env | {"MANBA_LLM__BASE_URL": "http://127.0.0.1:8/v1"}).llm
    assert own.base_url == "http://127.0.0.1:8/v1"
    with pytest.raises(ConfigError, match="MANBA_LLM__BASE_URL"):
        from_env({"MANBA_LLM__BASE_URL": "localhost:11434"})


def test_prompt_templates_declare_their_variables() -> None:
    prompt = prompts.load("translate_question")
    assert prompt.variables == {"question", "question_lang", "targets"}
    system, user = prompt.render(question="a {b} c", question_lang="en", targets="fa")
    assert "a {b} c" in user and "{" not in system.replace('{"', "")
    with pytest.raises(ConfigError, match="missing"):
        prompt.render(question="x", question_lang="en")
    bad = "# variables: question\n---SYSTEM---\nhi\n---USER---\n{question} {extra}\n"
    with pytest.raises(ConfigError, match="declared variables"):
        prompts.parse("bad", bad)
    with pytest.raises(ConfigError, match="SYSTEM"):
        prompts.parse("bad", "# variables:\nno parts\n")
