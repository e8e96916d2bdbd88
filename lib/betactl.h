/*
 * betactl.h - the beta controller of hgq_train (train.target_ebops):
 * beta steered so that the exact EBOPs of the calibrated model settle at a
 * target.  Internal to libhgq (train.c and the unit tests); plain data,
 * so that its state can be saved in a model and a resumed run continues
 * exactly.
 *
 * How it works.  After every step the trainer knows the differentiable
 * EBOPs estimate E (hgq_step_stats.ebops); after every epoch it knows the
 * exact EBOPs X of the calibrated model.  Their ratio r = X/E (0.6 to 0.8
 * on Fashion-MNIST, moving slowly) turns the estimate into a measurement
 * M = r * E of the exact EBOPs after every step.  The controller is
 * proportional-integral on ln(beta) against the log error:
 *
 *   e      = ln(M / ref(t)), clamped to [-1, 1]
 *   I     += KI * e * dt          (dt = 1 / steps an epoch;
 *                                  KI_LOW instead when e < 0)
 *   ln b   = I + KP * e
 *
 * Logarithms on both sides because beta spans decades and EBOPs respond
 * to beta's ratio, not its difference.  Under Adam the bit parameters move
 * at a rate set by the balance of the task and EBOPs gradients, so the
 * plant integrates (EBOPs drift while beta is off its equilibrium) and the
 * proportional term damps the loop.  The gains are per epoch, so the
 * behaviour does not depend on the batch size or the data size.  The
 * integral falls three times faster below the reference than it rises
 * above it: see below.
 *
 * The reference.  Bits are cut much faster than they grow back (the task
 * gradient pulls them up slowly, gamma pushes them down), so an overshoot
 * below the target may never be recovered.  The reference therefore
 * descends geometrically from the first measurement M0 to the target over
 * the first RAMP (half) of the planned epochs,
 * ref(t) = M0 (target/M0)^(t/ramp), and is the target from then on
 * (and from the start when M0 is below it).  When r changes, M0 is
 * rescaled with it, so that the reference does not jump.  I and beta
 * stay within [BETA_MIN, BETA_MAX] (no wind-up while the network cannot
 * follow).
 */
#ifndef HGQ_BETACTL_H
#define HGQ_BETACTL_H

#include <stdint.h>

#define HGQ_BETACTL_KP		2.0	/* ln(beta) per unit of log error */
#define HGQ_BETACTL_KI		1.0	/* per epoch, above the reference */
#define HGQ_BETACTL_KI_LOW	3.0	/* per epoch, below it */
#define HGQ_BETACTL_RAMP	0.5	/* of the epochs: the descent */
#define HGQ_BETACTL_BETA_MIN	1e-12
#define HGQ_BETACTL_BETA_MAX	1e-1
#define HGQ_BETACTL_BETA0	1e-7	/* start when the schedule says 0 */

struct hgq_betactl {
	double	 target;	/* EBOPs, > 0 */
	double	 ramp;		/* epochs of the descent, >= 0 */
	double	 start;		/* M0; 0 until the first step */
	double	 integ;		/* I: ln(beta) without the P term */
	double	 ratio;		/* r: exact / estimated EBOPs [1] */
	double	 beta;		/* in force for the next step */
};

/*
 * hgq_betactl_init - start at beta0 (> 0; HGQ_BETACTL_BETA0 when it is
 * not), ratio 1, the reference descending over HGQ_BETACTL_RAMP of epochs
 */
void	hgq_betactl_init(struct hgq_betactl *b, double target, double beta0,
	    uint32_t epochs);
/* hgq_betactl_ref - the reference at epoch t (fractional) */
double	hgq_betactl_ref(const struct hgq_betactl *b, double t);
/*
 * hgq_betactl_step - after a step whose differentiable EBOPs were
 * ebops_train, at (fractional) epoch t of epochs of steps_per_epoch steps:
 * update and return the beta of the next step (also b->beta).
 */
double	hgq_betactl_step(struct hgq_betactl *b, double ebops_train, double t,
	    uint64_t steps_per_epoch);
/*
 * hgq_betactl_epoch - after an epoch: the exact EBOPs of the calibrated
 * model and the estimate of the epoch's last step set the ratio (kept
 * when either is 0).
 */
void	hgq_betactl_epoch(struct hgq_betactl *b, uint64_t ebops_exact,
	    double ebops_train);
/*
 * The state as text (hexadecimal floats, exact) for model metadata, and
 * back: hgq_betactl_parse returns 0 when s is not such a text or its
 * values are out of range (b unchanged), 1 otherwise.  buf needs
 * HGQ_BETACTL_TEXT bytes.
 */
#define HGQ_BETACTL_TEXT	200
void	hgq_betactl_format(const struct hgq_betactl *b, char *buf);
int	hgq_betactl_parse(struct hgq_betactl *b, const char *s);

#endif
