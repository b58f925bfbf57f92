"""Many Fish Speech lines through one decoding loop, each sampled as upstream samples it alone.

Upstream's ``generate_long`` speaks one line at a time. This loop runs a batch of lines that
share a reference: one forward pass per step for all rows, with per-row positions (ragged
prompt lengths), per-row sampling parameters and one ``torch.Generator`` per row. It is
written over the model's own modules and weights (``DualARTransformer``'s layers, norms,
embeddings, caches' shapes and masks), mirroring ``text2semantic.inference`` of fish-speech
0.1.0 (S1) and of fish-speech-lib 0.1.1.1 (1.5) step for step (``Dialect`` holds where
they differ):

- prefill: the whole prompt through the model's ``forward_generate`` (default attention
  backend), the first frame sampled with no repetition penalty;
- each further frame: the slow transformer on one token per row (S1: under the MATH
  attention backend, as upstream), attending over the cache with the causal mask, then the
  fast transformer codebook by codebook with a zeroed cache; upstream's repetition-penalty
  window of 16 frames, including S1's quirk of penalising the semantic token with the
  window's first *column*;
- sampling: repetition penalty, top-p, temperature (S1: all three rounded through bfloat16
  as its ``generate`` does), then argmax(probs / Exp(1) noise) with the noise drawn from the
  row's own generator in upstream's order (S1: vocabulary, then 1024 per residual codebook,
  one draw each; 1.5: one draw per frame, split, as its ``SamplingRng`` does).

Keys past a row's position are masked (their weight is exactly 0), so the loop attends over
whole 256-key blocks covering every row's position rather than the whole cache; the tests
check this gives upstream's bits (they compare against upstream, which attends over all).

Two kernel plans (``Plan``):

- ``row-invariant`` (CPU): every matrix product is computed per row (a batched product of
  one-row matrices), which is bit-for-bit the product upstream computes for a single line;
  PyTorch's CPU matmul of M rows gives other low bits for M = 1 than for M = 8 (measured),
  so a plain batched product would make a line depend on its batch's size. The prompt is
  prefilled whole, per row, as upstream does. A line's codes then equal upstream's
  ``generate_long`` for the same seed, whatever batch it is in; finished rows leave the batch.
- ``batched`` (GPU): plain batched products (the throughput), the reference's part of the
  prompt prefilled once and its KV copied into every row, and every batch padded to exactly
  ``rows`` rows that stay until the batch ends, so a line's bytes depend on its own inputs
  and ``rows`` only (recorded in the engine's pins), not on its batch-mates.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

WINDOW = 16  # upstream's repetition-penalty window, in frames
SPAN = 256  # upstream samples residual codebooks from the first 1024 logits

PlanKind = Literal["row-invariant", "batched"]


@dataclass(frozen=True)
class Dialect:
    """Where fish-speech 0.1.0 (S1) and fish-speech-lib 0.1.1.1 (1.5) generate differently."""

    name: str
    params_through_bf16: bool  # S1's generate() re-makes its sampling parameters as bf16
    penalty_by_column: bool  # S1 penalises the semantic token by the window's first column
    fast_vocab: int | None  # S1 samples residual codes from the first 1024 logits; 1.5: all
    flat_noise: bool  # 1.5 draws a frame's noise in one call from SamplingRng; S1 per sample
    math_on_cpu: bool  # S1 decodes under the MATH attention backend everywhere; 1.5 on CUDA
    drop_first: bool  # 1.5's codes drop the prefill's frame; S1's drop the last frame
    own_embed: bool  # the embedding is the model's ``embed`` (1.5), else S1's inline code


S1 = Dialect("fish-s1", True, True, 1024, False, True, False, False)
V15 = Dialect("fish-1.5", False, False, None, True, False, True, True)


@dataclass(frozen=True)
class Plan:
    kind: PlanKind
    rows: int  # batched: every batch is padded to exactly this many rows


@dataclass(frozen=True)
class Line:
    """One line to generate: its encoded prompt and its sampling parameters."""

    prompt: torch.Tensor  # [codebooks + 1, T] int, as ContentSequence.encode_for_inference
    prefix: int  # leading prompt columns that depend on the reference only
    seed: int
    temperature: float
    top_p: float
    repetition_penalty: float
    max_new_tokens: int  # 0: up to the context


def _through_bf16(value: float, dtype: torch.dtype) -> torch.Tensor:
    # upstream: generate_long makes float32 tensors, generate() re-makes them as bfloat16.
    return torch.tensor(value, dtype=torch.float32).to(torch.bfloat16).to(dtype)


class BatchGenerator:
    """The loop over one model; build once per engine, call ``generate`` per batch."""

    def __init__(self, model: Any, plan: Plan, dialect: Dialect = S1) -> None:
        self.model = model
        self.plan = plan
        self.dialect = dialect
        config = model.config
        self.codebooks = int(config.num_codebooks)
        self.device = model.embeddings.weight.device
        self.dtype = next(model.parameters()).dtype
        tokenizer = model.tokenizer
        self.semantic_begin = int(tokenizer.semantic_begin_id)
        self.semantic_end = int(tokenizer.semantic_end_id)
        self.im_end = int(tokenizer.get_token_id("<|im_end|>"))

    # --- the loop -------------------------------------------------------------------------

    def generate(self, lines: Sequence[Line]) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(i, codes)`` for each line as it finishes; codes ``[codebooks, N]`` int are
        what upstream's generate_long yields as ``response.codes`` for that line alone."""
        # Entered per step rather than around the generator: a caller may interleave other
        # torch work between the lines it receives.
        with torch.inference_mode():
            steps = self._steps(lines)
        while True:
            with torch.inference_mode():
                item = next(steps, None)
            if item is None:
                return
            yield item

    def _steps(self, lines: Sequence[Line]) -> Iterator[tuple[int, torch.Tensor]]:
        model, plan = self.model, self.plan
        width = self.codebooks + 1
        rows = len(lines) if plan.kind == "row-invariant" else max(plan.rows, len(lines))
        padded = list(lines) + [lines[0]] * (rows - len(lines))  # batched: discarded rows
        context = int(model.config.max_seq_len)
        lengths = [int(line.prompt.shape[1]) for line in padded]
        budgets = []  # decode steps after the prefill's frame, as upstream's generate()
        for line, length in zip(padded, lengths, strict=True):
            new = line.max_new_tokens
            new = min(new, context - length) if new else context - length
            budgets.append(new - 1)
        generators = [torch.Generator(device=self.device).manual_seed(line.seed) for line in padded]
        if self.dialect.params_through_bf16:
            temperature = torch.stack(
                [torch.clip(_through_bf16(x.temperature, torch.bfloat16), min=1e-5) for x in padded]
            ).to(self.dtype)
            top_p = torch.stack([_through_bf16(x.top_p, self.dtype) for x in padded])
            penalty = torch.stack([_through_bf16(x.repetition_penalty, self.dtype) for x in padded])
        else:  # float32 tensors, and max(temperature, 1e-5)
            temperature = torch.tensor([max(x.temperature, 1e-5) for x in padded]).to(self.dtype)
            top_p = torch.tensor([x.top_p for x in padded]).to(self.dtype)
            penalty = torch.tensor([x.repetition_penalty for x in padded]).to(self.dtype)
        sampling = _Sampling(  # on the model's device, as upstream's tensors are
            temperature.to(self.device)[:, None],
            top_p.to(self.device)[:, None],
            penalty.to(self.device)[:, None],
            generators,
        )

        caches, logits, hidden = self._prefill(padded)
        frame = self._frame(logits, hidden, None, sampling)  # [rows, width]
        steps = max(budgets)
        history = torch.zeros(
            (rows, width, max(steps, WINDOW)), dtype=torch.int, device=self.device
        )
        frames: list[list[torch.Tensor]] = [[frame[r]] for r in range(rows)]
        active = list(range(rows))  # row numbers still decoding, in batch order
        positions = torch.tensor(lengths, device=self.device, dtype=torch.long)
        for step in range(steps):
            window = (
                history[:, :, :WINDOW] if step < WINDOW else history[:, :, step - WINDOW : step]
            )
            math = self.dialect.math_on_cpu or self.device.type == "cuda"
            with sdpa_kernel(SDPBackend.MATH) if math else contextlib.nullcontext():
                logits, hidden = self._slow(frame[:, :, None], positions, caches)
                frame = self._frame(logits, hidden, window, sampling)
            history[:, :, step] = frame
            positions = positions + 1
            tokens = frame[:, 0].tolist()  # one device sync per step, as upstream's check
            done = []
            for slot, row in enumerate(active):
                if row < 0:
                    continue  # batched plan: a finished row, decoding on as padding
                frames[row].append(frame[slot])
                if tokens[slot] == self.im_end or step + 1 >= budgets[row]:
                    done.append(slot)
            for slot in done:
                row = active[slot]
                if row < len(lines):
                    yield row, self._codes(frames[row])
                frames[row] = []
            if not done:
                continue
            if plan.kind == "row-invariant":  # finished rows leave the batch
                keep = [slot for slot in range(len(active)) if slot not in done]
                if not keep:
                    return
                index = torch.tensor(keep, device=self.device)
                active = [active[slot] for slot in keep]
                caches = [(k[index], v[index]) for k, v in caches]
                frame, history, positions = frame[index], history[index], positions[index]
                sampling = sampling.select(keep)
            else:  # the batch keeps its shape: the rows' bytes depend on plan.rows only
                active = [-1 if slot in done else row for slot, row in enumerate(active)]
                if all(row < 0 or row >= len(lines) for row in active):
                    return

    def _codes(self, frames: list[torch.Tensor]) -> torch.Tensor:
        # S1: y[1:, prompt_length:-1], the last frame (<|im_end|> or not) dropped;
        # 1.5: y[1:, prompt_length + 1:], the prefill's frame dropped.
        stacked = torch.stack(frames, dim=1)
        codes = (stacked[1:, 1:] if self.dialect.drop_first else stacked[1:, :-1]).clone()
        if bool((codes < 0).any()):
            raise ValueError("negative code generated")
        return codes

    # --- prefill ---------------------------------------------------------------------------

    def _prefill(
        self, lines: Sequence[Line]
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor, torch.Tensor]:
        """Each row's prompt through the model's own forward_generate (its batch-1 caches),
        copied into this batch's caches. Returns the caches, the last position's logits
        [rows, vocab] and hidden states [rows, 1, fast_dim]."""
        model = self.model
        rows = len(lines)
        layers = list(model.layers)
        caches = []
        for layer in layers:
            shape = list(layer.attention.kv_cache.k_cache.shape)
            shape[0] = rows
            caches.append(
                (
                    torch.zeros(shape, dtype=self.dtype, device=self.device),
                    torch.zeros(shape, dtype=self.dtype, device=self.device),
                )
            )
        logits, hidden = [], []
        shared = self.plan.kind == "batched"
        prefilled: torch.Tensor | None = None  # the shared prefix now in the model's caches
        for row, line in enumerate(lines):
            prompt = line.prompt.to(self.device)
            total = int(prompt.shape[1])
            start = 0
            if shared and line.prefix > 0 and total > line.prefix:
                prefix = prompt[:, : line.prefix]
                if prefilled is None or not torch.equal(prefilled, prefix):
                    model.forward_generate(
                        prefix[None], torch.arange(0, line.prefix, device=self.device)
                    )
                    prefilled = prefix
                start = line.prefix
            else:
                prefilled = None  # the whole prompt overwrites the model's caches
            result = model.forward_generate(
                prompt[None, :, start:], torch.arange(start, total, device=self.device)
            )
            logits.append(result.logits[0, -1])
            hidden.append(result.hidden_states[:, -1:])
            for (k, v), layer in zip(caches, layers, strict=True):
                cache = layer.attention.kv_cache
                k[row, :, :total] = cache.k_cache[0, :, :total]
                v[row, :, :total] = cache.v_cache[0, :, :total]
        return caches, torch.stack(logits), torch.cat(hidden)

    # --- one frame -------------------------------------------------------------------------

    def _linear(self, module: Any, x: torch.Tensor) -> torch.Tensor:
        return self._linear_weight(x, module.weight, module.bias)

    def _linear_weight(
        self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.plan.kind == "batched":
            return F.linear(x, weight, bias)
        # One one-row product per row: the same kernel and bits as upstream's single line.
        rows = x.shape[0]
        flat = x.reshape(rows, -1, x.shape[-1])
        out = torch.bmm(flat, weight.t().expand(rows, *weight.t().shape))
        if bias is not None:
            out = out + bias
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def _slow(
        self,
        tokens: torch.Tensor,  # [rows, codebooks + 1, 1]
        positions: torch.Tensor,  # [rows]
        caches: list[tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        config = model.config
        if self.dialect.own_embed:
            x = model.embed(tokens, share_codebook_embeddings=config.share_codebook_embeddings)
        else:
            x = self._embed_s1(tokens)
        # Keys past every row's position are masked out (weight exactly 0): attend over a
        # span of SPAN-sized blocks that covers them all rather than the whole cache.
        span = min(int(model.max_seq_len), (int(positions.max()) // SPAN + 1) * SPAN)
        mask = model.causal_mask[positions, :span][:, None, None]
        freqs = model.freqs_cis[positions]
        rows = torch.arange(tokens.shape[0], device=self.device)
        for layer, (k_cache, v_cache) in zip(model.layers, caches, strict=True):
            attention = layer.attention

            def store(
                k: torch.Tensor,
                v: torch.Tensor,
                k_cache: torch.Tensor = k_cache,
                v_cache: torch.Tensor = v_cache,
            ) -> tuple[torch.Tensor, torch.Tensor]:
                k_cache[rows, :, positions] = k[:, :, 0]
                v_cache[rows, :, positions] = v[:, :, 0]
                return k_cache[:, :, :span], v_cache[:, :, :span]

            qkv = self._attention(attention, layer.attention_norm(x), freqs, store)
            h = x + self._attend(attention, qkv, mask)
            x = h + self._feed_forward(layer.feed_forward, layer.ffn_norm(h))
        out = model.norm(x)
        if config.tie_word_embeddings:
            logits = self._linear_weight(out, model.embeddings.weight)
        else:
            logits = self._linear(model.output, out)
        hidden = x
        if isinstance(model.fast_project_in, torch.nn.Linear):
            hidden = self._linear(model.fast_project_in, x)
        return logits[:, -1], hidden

    def _embed_s1(self, tokens: torch.Tensor) -> torch.Tensor:
        """S1's forward_generate embedding: text token plus scaled codebook embeddings."""
        model, config = self.model, self.model.config
        embeds = [
            model.codebook_embeddings(tokens[:, i + 1] + i * config.codebook_size)
            for i in range(self.codebooks)
        ]
        vq_sum = torch.stack(embeds, dim=1).sum(dim=1)
        vq_masks = (tokens[:, 0] >= self.semantic_begin) & (tokens[:, 0] <= self.semantic_end)
        vq_sum[~vq_masks] = 0
        x = model.embeddings(tokens[:, 0]) + vq_sum
        if config.scale_codebook_embeddings:
            x = torch.where(
                vq_masks.unsqueeze(-1).expand_as(x), x / math.sqrt(self.codebooks + 1), x
            )
        return x

    def _attention(
        self, attention: Any, x: torch.Tensor, freqs: torch.Tensor, store: Any
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, and the cache's k, v after storing this step's (upstream's Attention.forward
        up to the attention itself, with per-row rotary positions)."""
        rows, length, _ = x.shape
        q_size = attention.n_head * attention.head_dim
        kv_size = attention.n_local_heads * attention.head_dim
        q, k, v = self._linear(attention.wqkv, x).split([q_size, kv_size, kv_size], dim=-1)
        q = q.view(rows, length, attention.n_head, attention.head_dim)
        k = k.view(rows, length, attention.n_local_heads, attention.head_dim)
        v = v.view(rows, length, attention.n_local_heads, attention.head_dim)
        if getattr(attention, "attention_qk_norm", False):
            q = attention.q_norm(q)
            k = attention.k_norm(k)
        q = _rotary(q, freqs)
        k = _rotary(k, freqs)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        k, v = store(k, v)
        repeat = attention.n_head // attention.n_local_heads
        return q, k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)

    def _attend(self, attention: Any, qkv: Any, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = qkv
        rows = q.shape[0]
        q_size = attention.n_head * attention.head_dim
        if attention.use_sdpa:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:  # upstream's eq_scaled_dot_product_attention (the fast layers)
            bias = torch.zeros(1, 1, q.size(-2), k.size(-2), dtype=q.dtype, device=q.device)
            bias.masked_fill_(mask.logical_not(), float("-inf"))
            weight = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.size(-1)))
            weight += bias
            y = torch.softmax(weight, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(rows, q.shape[2], q_size)
        return self._linear(attention.wo, y)

    def _feed_forward(self, ff: Any, x: torch.Tensor) -> torch.Tensor:
        return self._linear(ff.w2, F.silu(self._linear(ff.w1, x)) * self._linear(ff.w3, x))

    def _frame(
        self,
        logits: torch.Tensor,  # [rows, vocab]
        hidden: torch.Tensor,  # [rows, 1, fast_dim]
        window: torch.Tensor | None,  # [rows, codebooks + 1, WINDOW]
        sampling: _Sampling,
    ) -> torch.Tensor:
        """One frame per row: the semantic token, then each residual codebook through the
        fast transformer (upstream's decode_one_token_ar)."""
        model = self.model
        rows = logits.shape[0]
        dialect = self.dialect
        noise: list[torch.Tensor] | None = None
        if dialect.flat_noise:  # SamplingRng.exponential_parts: one draw, then split
            vocab, books = int(model.config.vocab_size), int(model.config.codebook_size)
            noise = sampling.flat_noise([vocab] + [books] * (self.codebooks - 1), self.dtype)
        first = None
        if window is not None:
            first = window[:, :, 0] if dialect.penalty_by_column else window[:, 0]
        token = sampling.sample(logits, first, None if noise is None else noise[0])
        caches = []
        for layer in model.fast_layers:
            shape = list(layer.attention.kv_cache.k_cache.shape)
            shape[0] = rows
            caches.append(
                (
                    torch.zeros(shape, dtype=self.dtype, device=self.device),
                    torch.zeros(shape, dtype=self.dtype, device=self.device),
                )
            )
        self._fast(hidden, 0, caches, logits=False)  # upstream discards these logits
        code = token - self.semantic_begin
        code[code < 0] = 0
        codes = [token, code]
        x = model.fast_embeddings(code)
        for index in range(1, self.codebooks):
            logits = self._fast(x, index, caches)[:, -1]
            code = sampling.sample(
                logits,
                None if window is None else window[:, index + 1],
                None if noise is None else noise[index],
            )
            x = model.fast_embeddings(code)
            codes.append(code)
        return torch.stack(codes, dim=1)

    def _fast(
        self,
        x: torch.Tensor,
        index: int,
        caches: list[tuple[torch.Tensor, torch.Tensor]],
        logits: bool = True,
    ) -> torch.Tensor:
        model = self.model
        x = x.view(x.shape[0], 1, -1)
        at = torch.tensor([index], device=self.device, dtype=torch.long)
        mask = model.causal_mask[None, None, at, : self.codebooks]
        freqs = model.fast_freqs_cis[at]
        for layer, (k_cache, v_cache) in zip(model.fast_layers, caches, strict=True):

            def store(
                k: torch.Tensor,
                v: torch.Tensor,
                k_cache: torch.Tensor = k_cache,
                v_cache: torch.Tensor = v_cache,
            ) -> tuple[torch.Tensor, torch.Tensor]:
                k_cache[:, :, at] = k
                v_cache[:, :, at] = v
                return k_cache, v_cache

            qkv = self._attention(layer.attention, layer.attention_norm(x), freqs, store)
            h = x + self._attend(layer.attention, qkv, mask)
            x = h + self._feed_forward(layer.feed_forward, layer.ffn_norm(h))
        if not logits:
            return x
        # S1 samples from the first 1024 logits only (slicing them after the product);
        # each logit is its own dot product, so computing only those is exact.
        weight = model.fast_output.weight
        if self.dialect.fast_vocab is not None:
            weight = weight[: self.dialect.fast_vocab]
        return self._linear_weight(model.fast_norm(x), weight)


def _rotary(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """upstream's apply_rotary_emb, with a frequency row per batch row when freqs is
    [rows, ...] (per-row positions) or one shared row when it is [1, ...]."""
    shaped = x.float().reshape(*x.shape[:-1], -1, 2)
    freqs = freqs.view(freqs.shape[0], shaped.size(1), 1, shaped.size(3), 2)
    out = torch.stack(
        [
            shaped[..., 0] * freqs[..., 0] - shaped[..., 1] * freqs[..., 1],
            shaped[..., 1] * freqs[..., 0] + shaped[..., 0] * freqs[..., 1],
        ],
        -1,
    )
    return out.flatten(3).type_as(x)


@dataclass
class _Sampling:
    temperature: torch.Tensor  # [rows, 1]
    top_p: torch.Tensor  # [rows, 1]
    penalty: torch.Tensor  # [rows, 1]
    generators: list[torch.Generator]

    def select(self, keep: list[int]) -> _Sampling:
        index = torch.tensor(keep, device=self.temperature.device)
        return _Sampling(
            self.temperature[index],
            self.top_p[index],
            self.penalty[index],
            [self.generators[i] for i in keep],
        )

    def flat_noise(self, sizes: list[int], dtype: torch.dtype) -> list[torch.Tensor]:
        """Each row's Exp(1) noise for a frame in one draw, split per sample: [rows, size]."""
        device = self.temperature.device
        flat = torch.stack(
            [
                torch.empty(sum(sizes), dtype=dtype, device=device).exponential_(
                    1, generator=generator
                )
                for generator in self.generators
            ]
        )
        return list(flat.split(sizes, dim=1))

    def sample(
        self, logits: torch.Tensor, previous: torch.Tensor | None, noise: torch.Tensor | None
    ) -> torch.Tensor:
        """upstream's logits_to_probs + multinomial sampling, per row: [rows] int. NOISE:
        drawn by the caller (1.5), else here from each row's generator (S1)."""
        if previous is not None:
            previous = previous.long()
            score = torch.gather(logits, dim=-1, index=previous)
            score = torch.where(score < 0, score * self.penalty, score / self.penalty)
            logits = logits.scatter(dim=-1, index=previous, src=score)
        sorted_logits, sorted_indices = torch.sort(logits, descending=True)
        cum_probs = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
        remove = cum_probs > self.top_p
        remove[:, 0] = False  # keep at least one option
        remove = remove.scatter(dim=-1, index=sorted_indices, src=remove)
        logits = logits.masked_fill(remove, -float("Inf"))
        probs = F.softmax(logits / self.temperature, dim=-1)
        if noise is None:
            noise = torch.stack(
                [
                    torch.empty(
                        probs.shape[-1], dtype=probs.dtype, device=probs.device
                    ).exponential_(1, generator=generator)
                    for generator in self.generators
                ]
            )
        return torch.argmax(probs / noise, dim=-1).to(dtype=torch.int)
