"""Chapter 5's corrected document models (bigcompute.lab.document_examples): they train, their
shapes are right, the corpus loads, and the predictions agree with what torch measures."""

import itertools
import math

import pytest
import torch

from bigcompute import counts, memory
from bigcompute.configs import LSTMConfig
from bigcompute.lab import data, document_examples, measure, nets, training


@pytest.fixture(scope="module")
def tasks():
    return document_examples.document_tasks()


def test_the_fixed_seed001_model_trains_loss_decreases_over_20_steps():
    torch.manual_seed(0)
    model = nets.build(document_examples.SEED001_MLP)
    x, y = data.binary_task(256, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(2), abs=0.05)  # an untrained guess: ln 2
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    first = losses[:11]  # full batch: the loss falls at every one of the first 10 steps
    assert all(later < earlier for earlier, later in itertools.pairwise(first))


def test_the_document_001_loss_as_printed_cannot_go_below_its_double_sigmoid_floor():
    """Sigmoid outputs fed to BCEWithLogitsLoss are squashed twice: p = sigmoid(sigmoid(z))
    lies in (0.5, 0.73), so the loss never falls below -log sigmoid(1) for a positive."""
    torch.manual_seed(0)
    model = training.documents_model(sigmoid_output=True)
    x, y = data.binary_task(256, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(30):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        optimizer.step()
    floor = -math.log(1 / (1 + math.exp(-1)))  # 0.313, reached only if every label were 1
    assert loss.item() > floor


@pytest.mark.parametrize("key, out_shape", [
    ("seed001_mlp", (64, 1)), ("seed002_mlp", (32, 10)), ("seed003_cnn", (32, 10)),
    ("seed003_lstm", (32, 10)), ("seed003_attention", (32, 10)),
    ("seed004_lstm_lm", (32, document_examples.LM_SEQ, None)),
])
def test_every_model_takes_its_data_and_gives_a_loss(tasks, key, out_shape):
    task = tasks[key]
    x, y = task.example_batch()
    out = task.build()(x)
    expected = tuple(task.cfg.vocab_size if s is None else s for s in out_shape)
    assert tuple(out.shape) == expected
    loss = task.loss_fn(out, y)
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_the_data_have_the_documents_shapes():
    images, labels = data.digit_images(8, seed=0)
    assert images.shape == (8, 1, 28, 28) and labels.shape == (8,)
    seqs, labels = data.drift_sequences(8, seed=0)
    assert seqs.shape == (8, 100, 10)  # seed 003's LSTM input_shape=(100, 10)
    assert int(seqs.mean(dim=1).argmax(dim=1).eq(labels).sum()) >= 6  # the drift is there


def test_the_lstm_rejects_the_document_003_images():
    """Document 003 fits LSTM(input_shape=(100, 10)) on (n, 28, 28, 1) images."""
    model = nets.build(document_examples.SEED003_LSTM)
    with pytest.raises(RuntimeError, match="input_size"):
        model(torch.zeros(4, 28, 28, 1).squeeze(-1))


def test_the_corpus_loads_and_round_trips():
    text = data.load_corpus()
    assert 40_000 < len(text) < 400_000
    assert not any(line.startswith("#") for line in text.splitlines())
    assert "Shall I compare thee to a summer's day?" in text
    tok = data.CharTokenizer(text)
    assert tok.vocab_size < 100
    ids = tok.encode(text)
    assert tok.decode(ids[:500]) == text[:500]
    train, val = data.split_ids(ids, val_fraction=0.1)
    assert len(train) + len(val) == len(ids)
    assert 0.08 < len(val) / len(ids) < 0.12
    x, y = data.lm_windows(train, 16)
    assert torch.equal(x[5, 1:], y[5, :-1])  # targets are the inputs shifted by one
    unigram = document_examples.unigram_perplexity(train, val, tok.vocab_size)
    assert 10 < unigram < tok.vocab_size


def test_parameters_match_torch(tasks):
    for task in tasks.values():
        model = task.build()
        assert counts.param_count(task.cfg) == sum(p.numel() for p in model.parameters())


def test_training_flops_match_flop_counter_mode(tasks):
    for task in tasks.values():
        x, _ = task.example_batch()
        counted = measure.count_flops(document_examples.counting_module(task), (x,), "train")
        assert counts.flops(task.cfg, task.batch, task.seq, "train") == counted, task.key


def test_activation_bytes_match_what_autograd_saves(tasks):
    """Exact for every model, the LSTMs run step by step (the fused nn.LSTM kernel keeps a
    larger workspace, which chapter 5.3 reports)."""
    for task in tasks.values():
        x, y = task.example_batch()
        module = document_examples.counting_module(task)
        saved = measure.saved_activation_bytes(
            module, (x,), lambda out, task=task, y=y: task.loss_fn(out, y))
        predicted = memory.activation_bytes(task.cfg, task.batch, task.seq, loss=task.loss).total
        assert predicted == saved, task.key


def test_the_documents_attention_ignores_its_query_and_the_fix_does_not():
    torch.manual_seed(0)
    s = torch.randn(3, 7, 8)
    q1, q2 = torch.randn(3, 5), torch.randn(3, 5)
    doc = nets.DocumentAttention(5, 8)
    assert torch.allclose(doc(q1, s)[1], doc(q2, s)[1], atol=1e-6)
    fixed = nets.AdditiveAttention(5, 8, 16)
    assert not torch.allclose(fixed(q1, s)[1], fixed(q2, s)[1], atol=1e-3)
    weights = fixed(q1, s)[1]
    assert torch.allclose(weights.sum(dim=1), torch.ones(3))


def test_clipped_adam_limits_the_gradient_norm():
    p = torch.nn.Parameter(torch.zeros(10))
    opt = training.ClippedAdam([p], lr=0.1, clip_norm=1.0)
    (1000 * p.sum()).backward()
    opt.step()
    assert p.grad.norm() == pytest.approx(1.0, rel=1e-5)


def test_train_with_validation_records_every_step_and_each_evaluation(tasks):
    task = tasks["seed002_mlp"]
    _, run = task.run(steps=60, progress=False)
    assert run.steps == 60 and len(run.train_loss) == 60
    assert run.val_steps == [0, 50, 60]
    assert run.val_loss[-1] < run.val_loss[0]
    assert run.seconds > 0 and run.samples_per_second > 0


def _lstm_saved_and_predicted(cfg, batch, seq):
    """Bytes autograd saves for a cross-entropy step of ``cfg``'s LSTM run cell by cell (a
    target per step read), and memory's prediction."""
    torch.manual_seed(0)
    (x,) = nets.example_inputs(cfg, batch, seq)
    y = torch.randint(0, cfg.n_outputs, (batch, seq) if cfg.output == "every_step" else (batch,))
    saved = measure.saved_activation_bytes(
        nets.build(cfg, unrolled=True), (x,),
        lambda out: torch.nn.functional.cross_entropy(out.flatten(0, -2), y.flatten()))
    return saved, memory.activation_bytes(cfg, batch, seq, loss="ce").total


@pytest.mark.parametrize("inputs", [{"input_size": 10, "n_outputs": 5},
                                    {"vocab_size": 30, "embed_dim": 8}], ids=["features", "tokens"])
def test_lstm_activation_bytes_follow_where_the_output_layer_reads(inputs):
    """A tagger (every step) and a classifier (last step) of the same LSTM: the prediction
    moves with the output mode exactly as the saved bytes do (the loss keeps one row of
    log-probabilities and one target per step read), and each is what autograd saves (run
    cell by cell; see test_activation_bytes_match_what_autograd_saves)."""
    batch, seq = 4, 50
    every = LSTMConfig(hidden_size=16, n_layers=2, **inputs)
    last = LSTMConfig(hidden_size=16, n_layers=2, **inputs, output="last_step")
    saved_every, predicted_every = _lstm_saved_and_predicted(every, batch, seq)
    saved_last, predicted_last = _lstm_saved_and_predicted(last, batch, seq)
    assert saved_every > saved_last
    assert predicted_every - predicted_last == saved_every - saved_last
    assert predicted_every == saved_every
    assert predicted_last == saved_last


def test_the_seed003_lstm_classifies_from_its_last_step(tasks):
    """Its config says so, and the library's own FLOPs (no correction in practice) equal
    what FlopCounterMode counts on the module it builds, run cell by cell."""
    task = tasks["seed003_lstm"]
    assert task.cfg.output == "last_step"
    x, _ = task.example_batch()
    counted = measure.count_flops(nets.build(task.cfg, unrolled=True), (x,), "train")
    assert counts.flops(task.cfg, task.batch, task.seq, "train") == counted
