/*
 * fixture.h - what several unit suites share: one deterministic random
 * number generator and one builder of quantizer-dense-quantizer models.
 * Each suite fills the models with the values it needs (its own
 * distributions are deliberate: pruning wants dead rows, the IR wants
 * random shapes, EBOPs hand-computed formats).
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdint.h>

#include "hgq.h"

/*
 * splitmix64: the same numbers on every host.  A test that draws sets
 * fx_rng_state first, so that its data do not depend on the tests run
 * before it (CK_FORK=no runs them all in one process).
 */
extern uint64_t fx_rng_state;

uint64_t fx_rnd(void);
/* uniform in lo..hi (hi - lo small against 2^64) */
int	fx_rnd_int(int lo, int hi);
int64_t	fx_rnd_i64(int64_t lo, int64_t hi);
/* uniform in [0, 1) with 53 bits */
double	fx_rnd_unit(void);

/*
 * fx_chain - a calibrated model quantizer(n[0]) -> dense n[0]xn[1] ->
 * quantizer(n[1]) -> ... -> quantizer(n[nl]) with every fixed-point
 * array allocated and zero (k = i = f = 0, weights and biases 0), linear
 * activations, WRAP/RND quantizers, and an identity input of n[0]
 * columns.  Fails the test on allocation failure.  The caller frees it.
 */
struct hgq_model *fx_chain(const uint32_t *n, int nl);

/*
 * fx_add - append a layer of kind with output shape dims (rank 1..3)
 * reading the n_refs references refs; its n_in is the n_out of the layer
 * refs[0] names (for a model input, the layer's own n_out).  No array is
 * allocated.  Returns the layer's index; fails the test on an error.
 */
uint32_t fx_add(struct hgq_model *m, uint32_t kind, uint32_t rank,
	    const uint32_t *dims, uint32_t n_refs, const uint32_t *refs);

/*
 * fx_graph - a calibrated graph of format 1.2 with every kind of it, all
 * fixed-point arrays zero as in fx_chain, regression task:
 *
 *   0 quant [4] <- input "a"      1 quant [4] <- input "b"
 *   2 dense 4x3 <- 0              3 quant [3]
 *   4 dense 4x3 <- 1              5 quant [3]
 *   6 add(3, 5)                   7 quant [3]
 *   8 subtract(7, 3)              9 quant [3]
 *  10 lut tanh <- 9              11 quant [3]      (output "z")
 *  12 concatenate(7, 11) axis 0  13 quant [6]
 *  14 dense 6x2 <- 13, with a mask (weights 0 and 7 masked)
 *  15 quant [2]                                     (output "y")
 *
 * The index map is the identity over 8 raw columns (a's 4, then b's).
 */
struct hgq_model *fx_graph(void);

#endif
