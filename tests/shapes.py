"""Small configurations of every architecture the library models, for tests."""

from bigcompute.configs import (
    CNNConfig,
    LSTMConfig,
    MLPConfig,
    ResNetConfig,
    TransformerConfig,
)

GPT = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=100, max_seq_len=64)
LLAMA_GQA = TransformerConfig(
    n_layers=2, d_model=64, n_heads=4, n_kv_heads=2, vocab_size=100, max_seq_len=64, d_ff=96,
    gated_mlp=True, activation="silu", tied_embeddings=False, positions="rotary", bias=False,
    norm="rmsnorm")
RELU_WIDE = TransformerConfig(n_layers=3, d_model=96, n_heads=6, vocab_size=300,
                              max_seq_len=64, activation="relu", d_ff=200)
MOE = LLAMA_GQA.scaled(n_experts=4, top_k=2, n_kv_heads=4)
MQA_HEADDIM = TransformerConfig(n_layers=2, d_model=48, n_heads=4, n_kv_heads=1, head_dim=24,
                                vocab_size=77, max_seq_len=32, positions="none")
BERT = TransformerConfig(n_layers=2, d_model=64, n_heads=4, vocab_size=100, max_seq_len=64,
                         arch="encoder", type_vocab_size=2, embedding_norm=True, pooler=True,
                         post_norm=True)
VIT = TransformerConfig(n_layers=2, d_model=64, n_heads=4, arch="encoder", frontend="patches",
                        image_size=32, patch_size=8, n_classes=10)
T5 = TransformerConfig(n_layers=2, n_encoder_layers=2, d_model=64, n_heads=8, head_dim=16,
                       d_ff=128, vocab_size=100, arch="encoder-decoder", positions="relative",
                       bias=False, norm="rmsnorm", activation="relu")
WHISPER = TransformerConfig(n_layers=2, n_encoder_layers=2, d_model=64, n_heads=4,
                            vocab_size=100, max_seq_len=16, arch="encoder-decoder",
                            frontend="audio", n_mels=8, encoder_seq_len=20)

TRANSFORMERS = {"gpt": GPT, "llama_gqa": LLAMA_GQA, "relu_wide": RELU_WIDE, "moe": MOE,
                "mqa_headdim": MQA_HEADDIM, "bert": BERT, "vit": VIT, "t5": T5,
                "whisper": WHISPER}
OTHERS = {
    "mlp_100_500_500_10": MLPConfig((100, 500, 500, 10)),
    "cnn": CNNConfig(),
    "lstm_lm": LSTMConfig(hidden_size=32, n_layers=2, vocab_size=50, embed_dim=16),
    "lstm_features": LSTMConfig(hidden_size=24, n_layers=1, input_size=10, n_outputs=3),
    # many to one: the output layer reads only the last step (a sequence classifier)
    "lstm_classifier": LSTMConfig(hidden_size=24, n_layers=2, input_size=10, n_outputs=3,
                                  output="last_step"),
    "lstm_lm_last_step": LSTMConfig(hidden_size=32, vocab_size=50, embed_dim=16,
                                    output="last_step"),
    "resnet_small": ResNetConfig(blocks=(1, 1), width=8, image_size=32, n_classes=10),
    "resnet_basic": ResNetConfig(blocks=(1, 1, 1), bottleneck=False, width=8, image_size=32),
}
ALL = {**TRANSFORMERS, **OTHERS}
