"""Train Relayline's tiny demonstration chat model, offline, on CPython's bundled documentation.

No generative model can be downloaded where Relayline is built and tested, so this script makes
one: a small GPT-2-style model with its own byte-level BPE tokenizer, trained on the reference
text that ships with every CPython (`pydoc_data.topics`, the text behind `help("for")`), in
minutes on 2 CPU cores. The result is a standard Hugging Face folder that
`AutoTokenizer.from_pretrained` and `AutoModelForCausalLM.from_pretrained` load like any other
model, with a chat template and a model card (`README.md`).

    python infra/scripts/train_chat_model.py --out services/worker/models/relayline-tiny-chat
    python infra/scripts/train_chat_model.py --out /tmp/tiny --minutes 0.5   # smoke run

The run is seeded: with `--steps N` it is repeatable (on the same torch version and thread
count); with `--minutes M` (the default) the script times its first steps, fixes the step
count that fits the budget and records it in the model card, so `--steps` reproduces it. The
budget is compute, not wall-clock time: minutes of 2 busy cores, measured as the process's CPU
time over 2, so a machine shared with other work trains the same model, only more slowly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import pydoc_data.topics
import random
import re
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

USER, ASSISTANT, SYSTEM, END, PAD = "<|user|>", "<|assistant|>", "<|system|>", "<|end|>", "<|pad|>"
SPECIAL_TOKENS = [END, PAD, USER, ASSISTANT, SYSTEM]

# Renders `<|system|>\n...\n`, `<|user|>\n...\n`, `<|assistant|>\n...<|end|>\n`; with
# `add_generation_prompt` it ends with `<|assistant|>\n`. The training examples use `render`,
# which produces exactly the same text.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] not in ['system', 'user', 'assistant'] -%}"
    "{{ raise_exception('Roles are system, user and assistant, not ' + message['role']) }}"
    "{%- endif -%}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{%- if message['role'] == 'assistant' -%}{{ '<|end|>' }}{%- endif -%}"
    "{{ '\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>\\n' }}{%- endif -%}"
)

ASK = [
    "Tell me about {t}.",
    "Tell me about {t}.",
    "What {be} {t}?",
    "Explain {t}.",
    "Describe {t}.",
    "Can you explain {t}?",
    "I have a question about {t}.",
    "How do {t} work in Python?",
]
MORE = [
    "Tell me more about {t}.",
    "What else should I know about {t}?",
    "Go on.",
    "Tell me more.",
    "And what else?",
]
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful assistant that explains Python.",
    "You are Relayline's demo assistant. Answer briefly.",
    "Answer questions about the Python language.",
]
KEEP_CAPITAL = {"Python", "None", "NotImplemented", "Ellipsis", "Unicode", "MRO"}
GENERIC_HEADINGS = {"Overview", "Patterns", "Guards", "Keywords", "Methods", "Functions", "Classes"}
LEAD_IN_ENDINGS = {
    "is",
    "are",
    "as",
    "follows",
    "be",
    "to",
    "the",
    "of",
    "example",
    "examples",
    "e.g",
    "i.e",
    "like",
    "this",
    "these",
    "form",
    "and",
    "or",
    "with",
    "by",
    "using",
    "returns",
    "equivalent",
    "do",
    "code",
}
SIZE_LIMIT = 20 * 1024 * 1024
THREADS = 2  # torch threads; the compute budget is counted in CPU time over this


@dataclass
class Section:
    topic: str  # the key in pydoc_data.topics, e.g. "for"
    phrases: list[str]  # how a user names it, most specific first: ["the \"for\" statement"]
    paragraphs: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Data


def _is_underline(line: str, title: str) -> bool:
    s = line.rstrip()
    return len(s) >= 3 and len(set(s)) == 1 and s[0] in "*=-~^" and len(s) == len(title.rstrip())


def _normalize(text: str) -> str:
    quotes = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
    table: dict[str, str | int | None] = {**quotes, "\u2013": "-", "\u2014": "-"}
    text = text.translate(str.maketrans(table))
    text = re.sub(r"(\w)-\n\s*(\w)", r"\1-\2", text.replace("\u00a0", " "))  # "double-\nprecision"
    return " ".join(text.split())  # collapse all whitespace, newlines included


def _strip_markup(text: str) -> str:
    text = re.sub(r"^(?:\*|-|\d+\.|\(\d+\)|\[\d+\])\s+", "", text)  # list and footnote markers
    text = re.sub(r"\s*\[\d+\]", "", text)  # footnote references
    text = re.sub(r"\*\*([^*]+?)\*\*", r"\1", text)  # **strong**
    return re.sub(r"(?<![\w*\"])\*([A-Za-z_][\w\s\-'./]*?)\*(?![\w*])", r"\1", text)  # *term*


def clean_block(lines: list[str]) -> str | None:
    """One blank-line-separated block of a topic as a prose paragraph, or None (code, grammar,
    tables, signatures, headings, lead-ins and very short lines are dropped)."""
    raw = "\n".join(lines)
    if ">>>" in raw or "::=" in raw or "+---" in raw or "|" in raw:
        return None
    text = _strip_markup(_normalize(raw))
    if text.endswith(":"):  # a lead-in to a dropped code sample: keep it if it is a sentence
        last = text.rstrip(":").split()[-1].lower() if text.rstrip(":") else ""
        if last in LEAD_IN_ENDINGS or not last.isalpha():
            return None
        text = text.rstrip(":") + "."
    if len(text) < 60 or len(text.split()) < 10 or not text.endswith((".", '."', ".)")):
        return None
    prose = re.sub(r'"[^"]*"', "", text)  # quoted code does not count against prose
    letters = sum(c.isalpha() or c.isspace() for c in prose)
    symbols = sum(c in "()[]{}=<>#@%\\" for c in prose)
    if letters / max(1, len(prose)) < 0.85 or symbols / max(1, len(prose)) > 0.03:
        return None
    return text


def _phrase(heading: str) -> str:
    """A heading as words in a question: 'The "for" statement' -> 'the "for" statement'."""
    h = re.sub(r"\*([^*]+)\*", r"\1", _normalize(heading).rstrip(".:"))
    words = []
    for word in h.split(" "):
        bare = word.strip("()")
        if bare[:1].isupper() and bare[1:].islower() and bare not in KEEP_CAPITAL:
            word = word.replace(bare, bare.lower(), 1)
        words.append(word)
    return " ".join(words)


def load_sections() -> list[Section]:
    """The topics, split at their headings into sections of clean, de-duplicated paragraphs."""
    topics: dict[str, str] = pydoc_data.topics.topics
    seen: set[str] = set()
    sections: list[Section] = []
    for key in sorted(topics):
        lines = topics[key].split("\n")
        stack: list[tuple[str, str]] = []  # (underline char, phrase), outermost first
        current = Section(key, [key])
        block: list[str] = []

        def flush(block: list[str], current: Section) -> None:
            paragraph = clean_block(block) if block else None
            if paragraph and paragraph not in seen:
                seen.add(paragraph)
                current.paragraphs.append(paragraph)
            block.clear()

        i = 0
        while i < len(lines):
            line = lines[i]
            if i + 1 < len(lines) and line.strip() and _is_underline(lines[i + 1], line):
                flush(block, current)
                if current.paragraphs:
                    sections.append(current)
                char = lines[i + 1][0]
                levels = [c for c, _ in stack]
                stack = stack[: levels.index(char)] if char in levels else stack
                title = _normalize(line)
                stack.append((char, _phrase(title)))
                phrases = [p for _, p in reversed(stack)]
                if title in GENERIC_HEADINGS and len(phrases) > 1:
                    phrases = phrases[1:]
                current = Section(key, phrases)
                i += 2
                continue
            if line.strip():
                block.append(line)
            else:
                flush(block, current)
            i += 1
        flush(block, current)
        if current.paragraphs:
            sections.append(current)
    return sections


def render(messages: list[tuple[str, str]]) -> str:
    """The chat template, in Python: what the tokenizer's `apply_chat_template` produces."""
    out = []
    for role, content in messages:
        out.append(f"<|{role}|>\n{content}" + (END if role == "assistant" else "") + "\n")
    return "".join(out)


def _ask(template: str, phrase: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        phrase = phrase.replace('"', "")
    plural = phrase.endswith("s") and not phrase.endswith(("ss", "us"))
    question = template.format(t=phrase, be="are" if plural else "is")
    if template.startswith("How do") and not plural:
        question = question.replace("How do", "How does", 1)
    return question[0].upper() + question[1:]


FIRST_COPIES = 4  # chat examples per epoch for the first paragraph of each section


def build_examples(sections: list[Section], rng: random.Random) -> list[str]:
    """One epoch of training text, in chat examples and plain paragraphs.

    Each question names the paragraph's section (or, sometimes, an enclosing one). The first
    paragraph of a section, usually a definition, answers four "Tell me about
    ..."-style questions per epoch, sometimes followed by the second paragraph; every later
    paragraph answers one question, mostly "Tell me more ...", often as the second turn of a
    conversation. A quarter of the conversations start with a system prompt. Half of the
    paragraphs also appear as plain text. Every example ends with `<|end|>`, so the model
    learns to stop.
    """
    examples: list[str] = []

    def chat(turns: list[tuple[str, str]]) -> None:
        system = [("system", rng.choice(SYSTEM_PROMPTS))] if rng.random() < 0.25 else []
        examples.append(render(system + turns))

    def phrase(section: Section) -> str:
        return section.phrases[0] if rng.random() < 0.8 else rng.choice(section.phrases)

    for section in sections:
        paragraphs = section.paragraphs
        for _ in range(FIRST_COPIES):
            answer = paragraphs[0]
            if len(paragraphs) > 1 and rng.random() < 0.3:
                answer += "\n\n" + paragraphs[1]
            chat(
                [("user", _ask(rng.choice(ASK), phrase(section), rng)), ("assistant", answer)],
            )
        for n, paragraph in enumerate(paragraphs[1:], start=1):
            choice = rng.random()
            if choice < 0.2:
                turns = [("user", _ask(rng.choice(ASK), phrase(section), rng))]
            elif choice < 0.6:
                turns = [
                    ("user", _ask(rng.choice(ASK), phrase(section), rng)),
                    ("assistant", paragraphs[n - 1]),
                    ("user", _ask(rng.choice(MORE), phrase(section), rng)),
                ]
            else:
                turns = [("user", _ask(rng.choice(MORE[:2]), phrase(section), rng))]
            chat([*turns, ("assistant", paragraph)])
        examples += [p + END + "\n" for p in paragraphs if rng.random() < 0.5]
    rng.shuffle(examples)
    return examples


# ---------------------------------------------------------------------------------------------
# Tokenizer


def train_tokenizer(sections: list[Section], vocab_size: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    rng = random.Random(0)
    questions = [_ask(t, s.phrases[0], rng) for s in sections for t in ASK + MORE]
    texts = [p for s in sections for p in s.paragraphs] + questions + SYSTEM_PROMPTS
    tokenizer.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        bos_token=END,
        eos_token=END,
        pad_token=PAD,
        extra_special_tokens=[USER, ASSISTANT, SYSTEM],
        model_max_length=512,
        padding_side="left",  # decoder-only: pad on the left for batched generation
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def special_ids(tokenizer: PreTrainedTokenizerFast) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return {t: i for t, i in ids.items() if isinstance(i, int)}


def encode(tokenizer: PreTrainedTokenizerFast, examples: list[str]) -> torch.Tensor:
    backend: Tokenizer = tokenizer.backend_tokenizer
    ids = [i for encoding in backend.encode_batch(examples) for i in encoding.ids]
    return torch.tensor(ids, dtype=torch.long)


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class Args:
    out: Path
    minutes: float
    steps: int | None
    seed: int
    vocab: int
    layers: int
    embd: int
    heads: int
    context: int
    block: int
    batch: int
    lr: float
    dtype: str


def parse_args(argv: list[str] | None = None) -> Args:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (created/overwritten)")
    p.add_argument(
        "--minutes",
        type=float,
        default=8.0,
        help="training budget in minutes of 2 busy cores, i.e. CPU time / 2 (default 8)",
    )
    p.add_argument("--steps", type=int, default=None, help="exact step count (overrides minutes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab", type=int, default=4096, help="BPE vocabulary size")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--embd", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=512, help="n_positions: the max context")
    p.add_argument("--block", type=int, default=256, help="tokens per training row")
    p.add_argument("--batch", type=int, default=8, help="rows per step")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    p.add_argument(
        "--dtype",
        choices=["auto", "float32", "float16"],
        default="auto",
        help="weights on disk; auto: float32 unless the folder would exceed 20 MB",
    )
    ns = p.parse_args(argv)
    return Args(**vars(ns))


class Batches:
    """Endless batches of packed token blocks, reshuffled and re-rendered every epoch.

    Every fourth batch holds half as many rows of twice the length, so the position embeddings
    beyond `block` (up to the model's context) are trained too.
    """

    def __init__(
        self, sections: list[Section], tokenizer: PreTrainedTokenizerFast, args: Args
    ) -> None:
        self.sections, self.tokenizer, self.args = sections, tokenizer, args
        self.rng = random.Random(args.seed)
        self.epoch = 0
        self.tokens_per_epoch = 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        per_batch = self.args.batch * self.args.block
        step = 0
        while True:
            stream = encode(self.tokenizer, build_examples(self.sections, self.rng))
            self.epoch += 1
            self.tokens_per_epoch = len(stream)
            for start in range(0, len(stream) - per_batch + 1, per_batch):
                chunk = stream[start : start + per_batch]
                long = step % 4 == 3 and 2 * self.args.block <= self.args.context
                rows = self.args.batch // 2 if long and self.args.batch % 2 == 0 else None
                step += 1
                yield chunk.view(rows, -1) if rows else chunk.view(self.args.batch, -1)


WARMUP = 30  # steps; fixed, so that a time-budgeted run and its `--steps` replay agree


def lr_at(step: int, total: int, peak: float) -> float:
    if step < WARMUP:
        return peak * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, total - WARMUP)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass
class Report:
    steps: int
    seconds: float
    cpu_seconds: float
    final_loss: float
    epochs: float
    tokens_per_epoch: int
    losses: list[tuple[int, float]]


def train(
    model: GPT2LMHeadModel,
    sections: list[Section],
    tokenizer: PreTrainedTokenizerFast,
    args: Args,
) -> Report:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
    )
    batches = Batches(sections, tokenizer, args)
    total = args.steps
    budget = args.minutes * 60 * THREADS  # CPU seconds
    calibrate = 20  # with a budget, time steps 1..20, then fix the step count
    model.train()
    start, cpu_start = time.monotonic(), time.process_time()
    recent: list[float] = []
    losses: list[tuple[int, float]] = []
    step = 0
    first = cpu_start
    for step, batch in enumerate(batches):
        if total is None and step == calibrate + 1:
            per_step = (time.process_time() - first) / calibrate
            total = max(calibrate + 1, int(budget / per_step))
            print(f"~{per_step:.2f} CPU s/step: training for {total} steps", flush=True)
        if total is not None and step >= total:
            break
        if step == 1:
            first = time.process_time()
        lr = lr_at(step, total or WARMUP, args.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        out = model(input_ids=batch, labels=batch)
        loss: torch.Tensor = out.loss
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        recent = [*recent[-19:], float(loss.item())]
        if step % 25 == 0 or (total is not None and step == total - 1):
            mean = sum(recent) / len(recent)
            losses.append((step, mean))
            elapsed = time.monotonic() - start
            print(
                f"step {step:5d}/{total or '?'}  loss {mean:.3f}  lr {lr:.2e}  "
                f"epoch {batches.epoch}  {elapsed:6.0f}s",
                flush=True,
            )
    seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
    steps = total if total is not None else step
    tokens = steps * args.batch * args.block
    return Report(
        steps=steps,
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        final_loss=sum(recent) / len(recent),
        epochs=tokens / max(1, batches.tokens_per_epoch),
        tokens_per_epoch=batches.tokens_per_epoch,
        losses=losses,
    )


# ---------------------------------------------------------------------------------------------
# Output


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def sample(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, question: str) -> str:
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    assert isinstance(prompt, str)
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    model.train(False)
    with torch.no_grad():
        out = model.generate(  # type: ignore[misc]
            ids, max_new_tokens=60, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert isinstance(text, str)
    return text


def psf_license() -> str | None:
    """The PSF License Agreement and the 0BSD licence for documentation code, from the
    LICENSE.txt of the running Python, if it ships one."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for base in (sys.base_prefix, "/usr"):
        path = Path(base) / "lib" / version / "LICENSE.txt"
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            start = text.find("B. TERMS AND CONDITIONS")
            end = text.find("BEOPEN.COM LICENSE AGREEMENT")
            zero = text.find("ZERO-CLAUSE BSD LICENSE")
            if start >= 0 and end > start and zero > end:
                return text[start:end].rstrip() + "\n\n\n" + text[zero:].strip() + "\n"
    return None


def reflow(markdown: str, width: int = 96) -> str:
    """Re-wrap the prose paragraphs of a Markdown text; fences, tables, lists, quotes,
    headings and front matter are left alone."""
    out: list[str] = []
    fenced = False
    for block in markdown.split("\n\n"):
        starts_fenced = fenced
        fenced ^= block.count("```") % 2 == 1
        if starts_fenced or block.lstrip().startswith(("```", "|", "- ", ">", "#", "---")):
            out.append(block)
        else:
            out.append(textwrap.fill(" ".join(block.split()), width, break_on_hyphens=False))
    return "\n\n".join(out)


def model_card(
    args: Args,
    report: Report,
    params: int,
    sections: list[Section],
    tokenizer: PreTrainedTokenizerFast,
    dtype: str,
    greedy: str,
    argv: list[str],
    licence: str | None,
) -> str:
    paragraphs = sum(len(s.paragraphs) for s in sections)
    words = sum(len(p.split()) for s in sections for p in s.paragraphs)
    topics = len({s.topic for s in sections})
    ids = special_ids(tokenizer)
    repro: list[str] = []
    skip = False
    for a in argv:
        if not skip and not a.startswith("--minutes"):
            repro.append(a)
        skip = a == "--minutes"
    repro += ["--steps", str(report.steps)]
    replay = (
        ""
        if args.steps is not None
        else "\nThe budget became a step count after the first steps were timed; the same "
        f"run, step for step:\n\n```sh\npython {' '.join(repro)}\n```\n"
    )
    quoted = "\n".join(f"> {line}" for line in textwrap.wrap(" ".join(greedy.split()) or "(empty)"))
    py = platform.python_version()
    curve = ", ".join(
        f"{s}: {loss:.2f}" for s, loss in report.losses[:: max(1, len(report.losses) // 8)]
    )
    rows = [
        (
            "architecture",
            f"`GPT2LMHeadModel`: {args.layers} layers, {args.embd} wide, "
            f"{args.heads} heads, context (`n_positions`) {args.context}, tied embeddings",
        ),
        ("parameters", f"{params:,}"),
        (
            "tokenizer",
            f"byte-level BPE trained with `tokenizers` on the same text, {len(tokenizer)} tokens",
        ),
        (
            "training",
            f"{report.steps} steps of AdamW (betas 0.9/0.95, weight decay 0.1, "
            f"gradient clip 1.0), peak learning rate {args.lr:g}, linear warm-up, cosine decay to "
            f"10%; {args.batch} packed rows of {args.block} tokens per step (every fourth step "
            f"{args.batch // 2} rows of {2 * args.block}); no dropout",
        ),
        (
            "data seen",
            f"{report.epochs:.1f} epochs of about {report.tokens_per_epoch:,} tokens "
            "(the chat examples are drawn afresh each epoch)",
        ),
        (
            "final loss",
            f"{report.final_loss:.3f} (training cross-entropy, mean of the last 20 steps)",
        ),
        ("loss curve", f"step: loss {curve}"),
        (
            "training time",
            f"{report.cpu_seconds / THREADS / 60:.1f} minutes of {THREADS} cores "
            f"({report.cpu_seconds:.0f} s of CPU time; {report.seconds:.0f} s wall-clock on a "
            "machine shared with other work)",
        ),
        (
            "machine",
            f"{os.cpu_count()} CPU cores ({cpu_name()}), `torch.set_num_threads({THREADS})`, "
            f"torch {torch.__version__}, transformers {transformers.__version__}, "
            f"tokenizers {tokenizers.__version__}, Python {py}",
        ),
        ("weights", f"`model.safetensors`, {dtype}"),
    ]
    table = "| | |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    special = ", ".join(f"`{t}` = {i}" for t, i in ids.items())
    found = re.search(
        r'"(Copyright \(c\) [\d,\s]+Python Software Foundation;\s*All Rights Reserved)"',
        licence or "",
    )
    notice = (
        " ".join(found.group(1).split())
        if found
        else "Copyright (c) Python Software Foundation; All Rights Reserved"
    )
    licence_where = (
        "the full licence texts, copied from the `LICENSE.txt` of the Python that produced the "
        "data, are in `LICENSE-PSF.txt` beside this card (also at "
        "https://docs.python.org/3/license.html)."
        if licence
        else "the full licence texts are at https://docs.python.org/3/license.html."
    )
    return f"""---
language: en
library_name: transformers
pipeline_tag: text-generation
tags: [gpt2, tiny, demo, offline, relayline]
---

# relayline-tiny-chat

A **{params / 1e6:.1f}-million-parameter demonstration model**, not for real use. It is a tiny
GPT-2-style causal language model with its own tokenizer, trained from scratch in
{report.cpu_seconds / THREADS / 60:.0f} minutes on {THREADS} CPU cores, only on the reference text
bundled with CPython.
Relayline uses it to demonstrate and test its chat worker pool on machines where no model can
be downloaded: it is loaded by the same engine as any Hugging Face model
(`AutoTokenizer` + `AutoModelForCausalLM` from this folder), follows a chat template, streams
tokens and stops at `<|end|>`. Its answers read as English about Python, but they are often
wrong, repetitive or off-topic: it knows {paragraphs} paragraphs of documentation, nothing
else.

## How it was made

By `infra/scripts/train_chat_model.py` in the Relayline repository, deterministically (seed
{args.seed}):

```sh
python {" ".join(argv)}
```
{replay}
{table}

## Data and licence

The only data is `pydoc_data.topics` from the standard library of Python {py}: the text of
the language reference and library topics that `help()` shows (e.g. `help("for")`), generated
from the CPython documentation by Sphinx. {topics} topics were split at their headings into
{len(sections)} sections; code samples, grammar rules, tables, signatures, lead-ins and very
short lines were dropped, whitespace was collapsed, inline markup and footnote markers were
removed and duplicate paragraphs were dropped, leaving {paragraphs} paragraphs
({words:,} words). These became chat examples, drawn afresh each epoch: questions that name a
section ("Tell me about the for statement.", "What is ...?", "Explain ...") answered by its
first paragraph (four times an epoch, sometimes with the second paragraph too), and "Tell me
more"-style questions, often as the second turn of a conversation, answered by each later
paragraph (once an epoch); a quarter start with a system prompt. Half of the paragraphs also
appear as plain text each epoch.

The CPython documentation is copyright the Python Software Foundation and is licensed under
the **PSF License Agreement (Python Software Foundation License Version 2)**; since Python 3.8.6
the examples, recipes and other code in the documentation are dual-licensed under the PSF
License Version 2 and the **Zero-Clause BSD licence**. The PSF licence permits preparing and
distributing derivative works provided the licence and PSF's notice of copyright are retained
and the changes are summarised. The summary is the paragraph above; PSF's notice is
"{notice}"; {licence_where} The model, the tokenizer and the script are part of Relayline.

## Use

Intended use: an offline demonstration of Relayline's chat pool, and a real model for its
tests. Not intended for anything else: do not rely on what it says, about Python or anything.

```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("services/worker/models/relayline-tiny-chat")
model = AutoModelForCausalLM.from_pretrained("services/worker/models/relayline-tiny-chat")
ids = tokenizer.apply_chat_template(
    [{{"role": "user", "content": "Tell me about the for statement."}}],
    add_generation_prompt=True, return_tensors="pt", return_dict=True,
)
out = model.generate(**ids, max_new_tokens=60, do_sample=True, temperature=0.7, top_p=0.9)
print(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
```

Greedy answer to "Tell me about the for statement." right after training (whitespace
collapsed):

{quoted}

## Chat format

```
<|system|>
You are a helpful assistant.
<|user|>
Tell me about the for statement.
<|assistant|>
The "for" statement is used to iterate over ...<|end|>
```

The tokenizer's `chat_template` renders exactly this (`add_generation_prompt=True` ends the
prompt with `<|assistant|>` and a newline). Special tokens: {special};
`eos_token` is `<|end|>` (also `bos_token`, never added automatically), `pad_token` is
`<|pad|>`, padding is on the left.

## Limitations

- Tiny: {params / 1e6:.1f} M parameters, minutes of CPU training. Its answers are mostly
  paragraphs of the documentation recalled nearly verbatim, often for the wrong topic, mixed
  up, cut off or repeating themselves; questions that do not name a section heading fare worst.
- It only knows the CPython language reference topics, in English; it cannot write code (code
  was removed from its data), follow instructions beyond "tell me about a Python topic", or
  hold a conversation in any real sense.
- Context is {args.context} tokens; it was trained on rows of {args.block} and
  {2 * args.block} tokens.
- No safety tuning of any kind; its data contains nothing but Python documentation.
"""


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(THREADS)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    sections = load_sections()
    paragraphs = sum(len(s.paragraphs) for s in sections)
    print(f"{len(sections)} sections, {paragraphs} paragraphs", flush=True)
    tokenizer = train_tokenizer(sections, args.vocab)
    ids = special_ids(tokenizer)
    print(f"tokenizer: {len(tokenizer)} tokens, special {ids}", flush=True)

    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=args.context,
        n_embd=args.embd,
        n_layer=args.layers,
        n_head=args.heads,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=ids[END],
        eos_token_id=ids[END],
        pad_token_id=ids[PAD],
        tie_word_embeddings=True,
    )
    model = GPT2LMHeadModel(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params:,} parameters", flush=True)

    report = train(model, sections, tokenizer, args)
    print(
        f"trained {report.steps} steps in {report.seconds:.0f}s ({report.cpu_seconds:.0f} CPU s),"
        f" loss {report.final_loss:.3f}"
    )
    greedy = sample(model, tokenizer, "Tell me about the for statement.")
    print(f"sample: {greedy}", flush=True)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("model.safetensors", "pytorch_model.bin", "chat_template.jinja"):
        (out / stale).unlink(missing_ok=True)
    generation = model.generation_config
    generation.bos_token_id, generation.eos_token_id = ids[END], ids[END]
    generation.pad_token_id = ids[PAD]
    tokenizer.save_pretrained(out)
    dtype = "float16" if args.dtype == "float16" else "float32"
    model.save_pretrained(out, safe_serialization=True)
    if args.dtype == "auto" and folder_size(out) > SIZE_LIMIT * 0.95:
        dtype = "float16"
    if dtype == "float16":
        (out / "model.safetensors").unlink()
        model.half().save_pretrained(out, safe_serialization=True)  # type: ignore[no-untyped-call]
    licence = psf_license()
    if licence:
        (out / "LICENSE-PSF.txt").write_text(licence, encoding="utf-8")
    shown = sys.argv[:1] + (argv if argv is not None else sys.argv[1:])
    card = model_card(args, report, params, sections, tokenizer, dtype, greedy, shown, licence)
    (out / "README.md").write_text(reflow(card), encoding="utf-8")
    size = folder_size(out)
    files = sorted(f.name for f in out.iterdir())
    print(json.dumps({"out": str(out), "bytes": size, "files": files}), flush=True)
    if size > SIZE_LIMIT:
        sys.exit(f"{out} is {size / 2**20:.1f} MiB, over the 20 MiB limit")


if __name__ == "__main__":
    main()
