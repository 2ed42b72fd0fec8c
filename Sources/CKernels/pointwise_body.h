// Transcendental pointwise kernels (softmax rows, GELU, SiLU), written once for a vector of VW
// floats and compiled twice by pointwise.c: AVX-512F (VW 16) and AVX2 + FMA (VW 8). Expects VW,
// F(name) and TARGET as skinny_body.h does. The exp is Cephes's expf (the same polynomial as the
// Swift `vectorExp`), erf is Abramowitz & Stegun 7.1.26.

typedef float F(pvec) __attribute__((vector_size(VW * 4), aligned(4)));
typedef int F(pmask) __attribute__((vector_size(VW * 4), aligned(4)));
#define PV F(pvec)
#define PM F(pmask)
#define PINLINE static inline __attribute__((always_inline)) TARGET

PINLINE PV F(pload)(const float *p) { PV v; memcpy(&v, p, sizeof v); return v; }
PINLINE void F(pstore)(float *p, PV v) { memcpy(p, &v, sizeof v); }
PINLINE PV F(psplat)(float x) { return (PV){} + x; }
/// mask ? a : b, lane by lane (masks are −1 or 0 per lane, as vector comparisons give).
PINLINE PV F(pselect)(PM mask, PV a, PV b) { return (PV)((mask & (PM)a) | (~mask & (PM)b)); }

PINLINE PV F(pexp)(PV input) {
    PM high = input > 88.72f, low = input < -87.33f, number = input == input;
    PV x = F(pselect)(high, F(psplat)(88.72f), input);
    x = F(pselect)(low, F(psplat)(-87.33f), x);
    x = F(pselect)(number, x, F(psplat)(0));
    PV shifted = x * 1.44269504f + 12582912.0f;
    PV n = shifted - 12582912.0f;
    PV r = x - n * 0.693359375f + n * 2.1219444e-4f;
    PV p = r * 1.98756915e-4f + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 0.166666655f;
    p = p * r + 0.5f;
    p = p * (r * r) + r + 1.0f;
    PM whole = (PM)shifted - 0x4B400000, half = whole >> 1;
    PV result = p * (PV)((half + 127) << 23) * (PV)((whole - half + 127) << 23);
    result = F(pselect)(low, F(psplat)(0), result);
    result = F(pselect)(high, F(psplat)(__builtin_inff()), result);
    return F(pselect)(number, result, input);
}

PINLINE PV F(perf)(PV x) {
    PM negative = x < 0;
    PV magnitude = F(pselect)(negative, -x, x);
    PV t = 1.0f / (magnitude * 0.3275911f + 1.0f);
    PV p = t * 1.061405429f - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    PV y = 1.0f - p * t * F(pexp)(-magnitude * magnitude);
    return F(pselect)(negative, -y, y);
}

PINLINE float F(phsum)(PV v) {
    float total = 0;
    for (int i = 0; i < VW; i++) total += v[i];
    return total;
}

PINLINE float F(phmax)(PV v) {
    float best = v[0];
    for (int i = 1; i < VW; i++) best = v[i] > best ? v[i] : best;
    return best;
}

TARGET void F(softmax_row)(const float *x, float *y, int n, int logarithm) {
    PV lanes = F(psplat)(-__builtin_inff());
    int i = 0;
    for (; i + VW <= n; i += VW) { PV v = F(pload)(x + i); lanes = F(pselect)(v > lanes, v, lanes); }
    float largest = F(phmax)(lanes);
    for (; i < n; i++) largest = x[i] > largest ? x[i] : largest;
    if (largest == -__builtin_inff()) largest = 0;
    PV sums = F(psplat)(0);
    float total = 0;
    for (i = 0; i + VW <= n; i += VW) {
        PV e = F(pexp)(F(pload)(x + i) - largest);
        if (!logarithm) F(pstore)(y + i, e);
        sums += e;
    }
    for (; i < n; i++) { float e = expf(x[i] - largest); if (!logarithm) y[i] = e; total += e; }
    total += F(phsum)(sums);
    if (logarithm) {
        float shift = largest + logf(total);
        for (i = 0; i + VW <= n; i += VW) F(pstore)(y + i, F(pload)(x + i) - shift);
        for (; i < n; i++) y[i] = x[i] - shift;
    } else {
        float scale = 1.0f / total;
        for (i = 0; i + VW <= n; i += VW) F(pstore)(y + i, F(pload)(y + i) * scale);
        for (; i < n; i++) y[i] *= scale;
    }
}

/// One contiguous row of a softmax pullback, ∂x = y·(∂y − Σ ∂y·y), or with `logarithm` of a
/// log-softmax pullback from its output (log-probabilities), ∂x = ∂y − e^y·Σ ∂y.
TARGET void F(softmax_gradient_row)(const float *dy, const float *y, float *dx, int n, int logarithm) {
    PV lanes = F(psplat)(0);
    float total = 0;
    int i = 0;
    if (logarithm) {
        for (; i + VW <= n; i += VW) lanes += F(pload)(dy + i);
        for (; i < n; i++) total += dy[i];
        total += F(phsum)(lanes);
        for (i = 0; i + VW <= n; i += VW) F(pstore)(dx + i, F(pload)(dy + i) - F(pexp)(F(pload)(y + i)) * total);
        for (; i < n; i++) dx[i] = dy[i] - expf(y[i]) * total;
    } else {
        for (; i + VW <= n; i += VW) lanes += F(pload)(dy + i) * F(pload)(y + i);
        for (; i < n; i++) total += dy[i] * y[i];
        total += F(phsum)(lanes);
        for (i = 0; i + VW <= n; i += VW) F(pstore)(dx + i, F(pload)(y + i) * (F(pload)(dy + i) - total));
        for (; i < n; i++) dx[i] = y[i] * (dy[i] - total);
    }
}

// GELU (exact): y = ½x(1 + erf(x/√2)); ∂x = ∂y·(Φ(x) + x·φ(x)).
PINLINE PV F(gelu_v)(PV x) { return 0.5f * x * (1.0f + F(perf)(x * 0.70710677f)); }
PINLINE PV F(gelu_dv)(PV x) {
    return 0.5f * (1.0f + F(perf)(x * 0.70710677f)) + x * 0.3989423f * F(pexp)(-0.5f * x * x);
}
// SiLU: y = x·σ(x); ∂x = ∂y·σ(x)(1 + x(1 − σ(x))).
PINLINE PV F(silu_v)(PV x) { return x / (1.0f + F(pexp)(-x)); }
PINLINE PV F(silu_dv)(PV x) { PV s = 1.0f / (1.0f + F(pexp)(-x)); return s * (1.0f + x * (1.0f - s)); }

/// Whole vectors only: returns how many elements were done (the caller finishes the tail).
TARGET long F(unary)(int op, const float *x, const float *dy, float *out, long count) {
    long i = 0;
    for (; i + VW <= count; i += VW) {
        PV v = F(pload)(x + i);
        PV r;
        switch (op) {
            case 0: r = F(gelu_v)(v); break;
            case 1: r = F(pload)(dy + i) * F(gelu_dv)(v); break;
            case 2: r = F(silu_v)(v); break;
            default: r = F(pload)(dy + i) * F(silu_dv)(v); break;
        }
        F(pstore)(out + i, r);
    }
    return i;
}

#undef PV
#undef PM
#undef PINLINE
