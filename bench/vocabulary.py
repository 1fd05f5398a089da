"""The fixed vocabulary of the synthetic archive (:mod:`bench.synthetic`): topics and their words,
general English words, made-up model-name parts, Korean nouns, particles and endings, digest names.

Changing any list changes every generated index: bump ``synthetic.GENERATOR_VERSION`` with it."""

from __future__ import annotations

TOPICS: dict[str, list[str]] = {
    'long context': [
        'context', 'window', 'positional', 'extrapolation', 'rope', 'length', 'retrieval', 'memory',
        'tokens', 'compression',
    ],
    'quantization': [
        'quantization', 'int4', 'int8', 'weights', 'activations', 'outliers', 'calibration',
        'precision', 'bits', 'rounding',
    ],
    'parameter-efficient finetuning': [
        'adapters', 'lora', 'rank', 'finetuning', 'frozen', 'parameters', 'low-rank', 'update',
        'merging', 'prompts',
    ],
    'mixture of experts': [
        'experts', 'routing', 'gating', 'sparse', 'load', 'balancing', 'capacity', 'router',
        'tokens', 'dispatch',
    ],
    'reinforcement learning from feedback': [
        'preference', 'reward', 'policy', 'feedback', 'alignment', 'ranking', 'pairs',
        'optimization', 'human', 'judges',
    ],
    'diffusion models': [
        'diffusion', 'denoising', 'noise', 'sampling', 'score', 'images', 'guidance', 'latent',
        'steps', 'schedule',
    ],
    'retrieval augmentation': [
        'retrieval', 'documents', 'passages', 'index', 'dense', 'queries', 'grounding', 'citations',
        'reranking', 'corpus',
    ],
    'reasoning': [
        'reasoning', 'chain', 'thought', 'steps', 'arithmetic', 'verification', 'search',
        'planning', 'solutions', 'math',
    ],
    'code generation': [
        'code', 'programs', 'execution', 'tests', 'repository', 'completion', 'synthesis', 'bugs',
        'functions', 'compilers',
    ],
    'speech': [
        'speech', 'audio', 'recognition', 'acoustic', 'waveform', 'speaker', 'transcription',
        'phonemes', 'vocoder', 'prosody',
    ],
    'vision transformers': [
        'vision', 'patches', 'images', 'segmentation', 'detection', 'pixels', 'convolution',
        'resolution', 'backbone', 'features',
    ],
    'multimodal models': [
        'multimodal', 'captions', 'visual', 'grounding', 'alignment', 'images', 'text', 'encoder',
        'projection', 'instruction',
    ],
    'efficient attention': [
        'attention', 'kernels', 'linear', 'flash', 'memory', 'sparse', 'heads', 'quadratic',
        'throughput', 'latency',
    ],
    'state space models': [
        'state', 'space', 'recurrence', 'selective', 'scan', 'sequences', 'convolution', 'linear',
        'hidden', 'dynamics',
    ],
    'data curation': [
        'data', 'filtering', 'deduplication', 'quality', 'synthetic', 'web', 'mixture', 'tokens',
        'curation', 'classifiers',
    ],
    'evaluation': [
        'benchmarks', 'evaluation', 'contamination', 'leaderboard', 'metrics', 'judges',
        'robustness', 'tasks', 'scores', 'errors',
    ],
    'robotics': [
        'robots', 'manipulation', 'control', 'policies', 'simulation', 'trajectories', 'grasping',
        'locomotion', 'sensors', 'actions',
    ],
    'graph learning': [
        'graphs', 'nodes', 'edges', 'message', 'passing', 'molecules', 'neighbors', 'aggregation',
        'topology', 'embeddings',
    ],
    'scaling laws': [
        'scaling', 'compute', 'laws', 'loss', 'parameters', 'tokens', 'budget', 'optimal',
        'extrapolation', 'training',
    ],
    'interpretability': [
        'interpretability', 'circuits', 'features', 'neurons', 'probing', 'activations',
        'attribution', 'sparse', 'dictionary', 'mechanisms',
    ],
    'speculative decoding': [
        'decoding', 'draft', 'speculative', 'acceptance', 'verification', 'latency', 'tokens',
        'heads', 'sampling', 'throughput',
    ],
    'optimizers': [
        'optimizer', 'learning', 'rate', 'momentum', 'adam', 'gradients', 'schedule', 'warmup',
        'weight', 'decay',
    ],
    'knowledge distillation': [
        'distillation', 'teacher', 'student', 'logits', 'soft', 'targets', 'compression',
        'transfer', 'smaller', 'imitation',
    ],
    'agents and tools': [
        'agents', 'tools', 'api', 'planning', 'environment', 'actions', 'browser', 'memory',
        'feedback', 'tasks',
    ],
}
GENERAL = [
    'method', 'model', 'results', 'approach', 'training', 'inference', 'baseline', 'performance',
    'accuracy', 'efficiency', 'experiments', 'dataset', 'analysis', 'improvement', 'architecture',
    'objective', 'framework', 'ablation', 'evidence', 'setting', 'variant', 'strategy', 'cost',
    'quality', 'scale', 'trade-off', 'signal', 'behavior', 'generalization', 'robust',
]
VERBS = [
    'improves', 'reduces', 'matches', 'outperforms', 'stabilizes', 'simplifies', 'accelerates',
    'extends', 'replaces', 'combines', 'revisits', 'measures', 'explains', 'scales', 'compresses',
    'predicts', 'transfers', 'filters', 'learns', 'adapts',
]
ADJECTIVES = [
    'simple', 'efficient', 'scalable', 'robust', 'sparse', 'adaptive', 'unified', 'lightweight',
    'hierarchical', 'contrastive', 'self-supervised', 'iterative', 'modular', 'calibrated',
    'generalist', 'compact', 'faster', 'cheaper', 'stable', 'principled',
]
CONNECTIVES = [
    'In practice,', 'Surprisingly,', 'The authors show that', 'Compared with prior work,',
    'Notably,', 'The main idea is that', 'On the other hand,', 'In their experiments,',
    'Interestingly,', 'As a result,',
]
NAME_PREFIX = [
    'Zor', 'Quil', 'Vex', 'Mira', 'Tando', 'Kest', 'Orli', 'Brim', 'Sola', 'Nyx', 'Pell', 'Corv',
    'Dax', 'Ferro', 'Glim', 'Hal', 'Isk', 'Jun', 'Kor', 'Lum', 'Mor', 'Nim', 'Ost', 'Pav', 'Quor',
    'Riv', 'Sel', 'Tor', 'Umb', 'Vail', 'Wex', 'Xan', 'Yor', 'Zeph', 'Arl', 'Bex', 'Cael', 'Dru',
    'Eld', 'Fen',
]
NAME_MIDDLE = [
    'a', 'en', 'ix', 'o', 'ul', 'ar', 'ev', 'im', 'on', 'ur', 'ast', 'eph', 'ith', 'ond', 'usk',
    'ber', 'cal', 'dor', 'fin', 'gal', 'har', 'kel', 'lor', 'mon', 'nar',
]
UNKNOWN_PREFIX = [
    'Plon', 'Grix', 'Snur', 'Thwap', 'Blorb', 'Kwip',
]
NAME_SUFFIX = [
    'former', 'LM', 'Net', 'Diff', 'GPT', 'Mamba', 'Flow', 'Vision', 'Coder', 'Bert', 'Mix',
    'Agent',
]
NAME_VERSION = [
    '', '-7B', '-2', '-XL', '-13B', '-v3', '-1.5', '-Lite', '-70B', '-Pro',
]
NAME_SPACE = len(NAME_PREFIX) * len(NAME_MIDDLE) * len(NAME_SUFFIX) * len(NAME_VERSION)  # 120,000
KOREAN_NOUNS = [
    '모델', '학습', '데이터', '성능', '추론', '효율', '방법', '실험', '결과', '개선', '언어', '이미지', '생성', '평가', '구조',
    '파라미터', '메모리', '속도', '정확도', '강화학습', '미세조정', '양자화', '어텐션', '토큰', '검색', '증강', '벤치마크', '비교',
    '아이디어', '논문', '저자', '접근', '문제', '한계', '비용', '규모', '전문가', '라우팅', '압축', '정렬',
]
KOREAN_PARTICLES = [
    ('은', '는'), ('이', '가'), ('을', '를'), ('의', '의'), ('에서', '에서'), ('으로', '로'), ('과', '와'),
    ('도', '도'),
]
KOREAN_ENDINGS = [
    '개선했습니다.', '보여줍니다.', '제안합니다.', '흥미롭습니다.', '중요합니다.', '줄였습니다.', '비교했습니다.', '간단합니다.', '유용해 보입니다.',
    '아쉽습니다.',
]
DIGESTS = [
    ('Model Digest Weekly', 'en', 'https://weekly.example.org/p/'),
    ('arXiv Roundup (synthetic)', 'en', 'https://roundup.example.org/'),
    ('Daily Paper Notes (KO, synthetic)', 'ko', 'https://notes.example.org/daily/'),
]
