/*
 * betactl.c - beta steered to an EBOPs target; the loop and its reasons
 * are in betactl.h.
 */
#include <math.h>
#include <stdio.h>

#include "betactl.h"

static double
clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

void
hgq_betactl_init(struct hgq_betactl *b, double target, double beta0,
    uint32_t epochs)
{
	if (!(beta0 > 0))
		beta0 = HGQ_BETACTL_BETA0;
	beta0 = clamp(beta0, HGQ_BETACTL_BETA_MIN, HGQ_BETACTL_BETA_MAX);
	b->target = target;
	b->ramp = HGQ_BETACTL_RAMP * epochs;
	b->start = 0;
	b->integ = log(beta0);
	b->ratio = 1;
	b->beta = beta0;
}

double
hgq_betactl_ref(const struct hgq_betactl *b, double t)
{
	if (!(b->start > b->target) || t >= b->ramp)
		return b->target;
	/* geometric: M0 at t = 0, the target at t = ramp */
	return b->start * pow(b->target / b->start, t / b->ramp);
}

double
hgq_betactl_step(struct hgq_betactl *b, double ebops_train, double t,
    uint64_t steps_per_epoch)
{
	const double lo = log(HGQ_BETACTL_BETA_MIN);
	const double hi = log(HGQ_BETACTL_BETA_MAX);
	double meas = b->ratio * ebops_train, e, dt;

	if (b->start == 0 && meas > 0)
		b->start = meas;
	/* an empty network (0 EBOPs) counts as far below any target */
	e = meas > 0 ? log(meas / hgq_betactl_ref(b, t)) : -1;
	e = clamp(e, -1, 1);
	dt = steps_per_epoch > 0 ? 1.0 / (double)steps_per_epoch : 1;
	b->integ = clamp(b->integ + (e < 0 ? HGQ_BETACTL_KI_LOW :
	    HGQ_BETACTL_KI) * e * dt, lo, hi);
	b->beta = exp(clamp(b->integ + HGQ_BETACTL_KP * e, lo, hi));
	return b->beta;
}

void
hgq_betactl_epoch(struct hgq_betactl *b, uint64_t ebops_exact,
    double ebops_train)
{
	double r;

	if (ebops_exact == 0 || !(ebops_train > 0))
		return;
	r = (double)ebops_exact / ebops_train;
	b->start *= r / b->ratio;
	b->ratio = r;
}

void
hgq_betactl_format(const struct hgq_betactl *b, char *buf)
{
	snprintf(buf, HGQ_BETACTL_TEXT, "%a %a %a %a %a %a", b->target,
	    b->ramp, b->start, b->integ, b->ratio, b->beta);
}

int
hgq_betactl_parse(struct hgq_betactl *b, const char *s)
{
	const double lo = log(HGQ_BETACTL_BETA_MIN) - 1e-9;
	const double hi = log(HGQ_BETACTL_BETA_MAX) + 1e-9;
	struct hgq_betactl t;
	char extra;

	if (sscanf(s, "%la %la %la %la %la %la %c", &t.target, &t.ramp,
	    &t.start, &t.integ, &t.ratio, &t.beta, &extra) != 6)
		return 0;
	/* written as !(x within range) so that NaN fails too */
	if (!(t.target > 0 && t.target < INFINITY) ||
	    !(t.ramp >= 0 && t.ramp < INFINITY) ||
	    !(t.start >= 0 && t.start < INFINITY) ||
	    !(t.integ >= lo && t.integ <= hi) ||
	    !(t.ratio > 0 && t.ratio < INFINITY) ||
	    !(t.beta >= HGQ_BETACTL_BETA_MIN * (1 - 1e-9) &&
	    t.beta <= HGQ_BETACTL_BETA_MAX * (1 + 1e-9)))
		return 0;
	*b = t;
	return 1;
}
