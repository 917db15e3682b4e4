import numpy as np

from likeness.people.index import EmbeddingIndex, all_nearest_neighbours
from likeness.testing.embeddings import blobs


def test_cell_join_finds_nearly_all_close_neighbours():
    emb, _ = blobs(60, 50, seed=9)  # 3,000 faces
    exact_d, exact_i = all_nearest_neighbours(emb, 8)
    approx_d, approx_i = all_nearest_neighbours(emb, 8, exact_limit=100)
    assert (exact_i[:, 0] == np.arange(len(emb))).all()  # itself first
    close = exact_d < 0.55
    found = sum(len(set(exact_i[r][close[r]]) & set(approx_i[r])) for r in range(len(emb)))
    assert found / close.sum() > 0.95
    assert np.allclose(np.sort(approx_d, axis=1)[:, 0], 0, atol=1e-3)


def test_incremental_index_exact_and_ivf_agree_on_the_nearest():
    emb, _ = blobs(40, 30, seed=10)
    ids = np.arange(1000, 1000 + len(emb))
    flat = EmbeddingIndex.build(emb, ids)
    assert flat.exact
    ivf = EmbeddingIndex(128, expected_size=10**6, train_on=emb)
    ivf.add(emb, ids)
    assert not ivf.exact
    queries = emb[::37] + 0.001
    assert (flat.search(queries, 1)[1] == ivf.search(queries, 1)[1]).mean() > 0.95
    empty = EmbeddingIndex(128)
    d, i = empty.search(queries[:2], 3)
    assert (i == -1).all() and np.isinf(d).all()
