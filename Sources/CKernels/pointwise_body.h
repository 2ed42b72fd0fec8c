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

/// Cephes's expf core for x within [−87.33, 88.72]: x = n·ln 2 + r with |r| ≤ ½ ln 2; returns
/// the degree-7 polynomial for eʳ and n (from the magic-number rounding) in `n`.
PINLINE PV F(pexp_core)(PV x, PM *n) {
    PV shifted = x * 1.44269504f + 12582912.0f;
    PV whole = shifted - 12582912.0f;
    PV r = x - whole * 0.693359375f + whole * 2.1219444e-4f;
    PV p = r * 1.98756915e-4f + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 0.166666655f;
    p = p * r + 0.5f;
    *n = (PM)shifted - 0x4B400000;
    return p * (r * r) + r + 1.0f;
}

PINLINE PV F(pexp)(PV input) {
    PM high = input > 88.72f, low = input < -87.33f, number = input == input;
    PV x = F(pselect)(high, F(psplat)(88.72f), input);
    x = F(pselect)(low, F(psplat)(-87.33f), x);
    x = F(pselect)(number, x, F(psplat)(0));
    PM whole;
    PV p = F(pexp_core)(x, &whole);
    // 2ⁿ as two factors, so n = 128 (x near 88.7) and n = −126 both stay normal.
    PM half = whole >> 1;
    PV result = p * (PV)((half + 127) << 23) * (PV)((whole - half + 127) << 23);
    result = F(pselect)(low, F(psplat)(0), result);
    result = F(pselect)(high, F(psplat)(__builtin_inff()), result);
    return F(pselect)(number, result, input);
}

/// eˣ for x ≤ 0 (NaN propagates): pexp without the upper clamp, and 2ⁿ as one factor
/// (n ≥ −126 after the lower clamp).
PINLINE PV F(pexp_nonpositive)(PV input) {
    PM n;
    PV p = F(pexp_core)(F(pselect)(input < -87.33f, F(psplat)(-87.33f), input), &n);
    return p * (PV)((n + 127) << 23);
}

/// erf(x), and e^(−x²) (which it needs) in `gaussian`.
PINLINE PV F(perf_gaussian)(PV x, PV *gaussian) {
    PM negative = x < 0;
    PV magnitude = F(pselect)(negative, -x, x);
    PV t = 1.0f / (magnitude * 0.3275911f + 1.0f);
    PV p = t * 1.061405429f - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    *gaussian = F(pexp_nonpositive)(-magnitude * magnitude);
    PV y = 1.0f - p * t * *gaussian;
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

// GELU (exact): y = ½x(1 + erf(x/√2)); ∂x = ∂y·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π), the
// Gaussian that erf(x/√2) computes on the way.
PINLINE PV F(gelu_v)(PV x) { PV g; return 0.5f * x * (1.0f + F(perf_gaussian)(x * 0.70710677f, &g)); }
PINLINE PV F(gelu_dv)(PV x) {
    PV g, e = F(perf_gaussian)(x * 0.70710677f, &g);
    return 0.5f * (1.0f + e) + x * 0.3989423f * g;
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

// Layer norm rows (see Sources/DeepLearning/Ops/LayerNormalization.swift for the formulas):
// the mean, then the squared deviations (two passes over a row that stays in L1), then
// y = (x − μ)·r·γ + β. Writes each row's μ and r.
TARGET void F(layer_norm_rows)(const float *x, float *y, long rows, int n, const float *gamma,
                               const float *beta, float epsilon, float *mean, float *inverse) {
    for (long row = 0; row < rows; row++) {
        const float *xr = x + row * n;
        float *yr = y + row * n;
        PV lanes = F(psplat)(0);
        float total = 0;
        int c = 0;
        for (; c + VW <= n; c += VW) lanes += F(pload)(xr + c);
        for (; c < n; c++) total += xr[c];
        float count = n > 0 ? (float)n : 1.0f;
        float mu = (total + F(phsum)(lanes)) / count;
        lanes = F(psplat)(0);
        total = 0;
        for (c = 0; c + VW <= n; c += VW) { PV d = F(pload)(xr + c) - mu; lanes += d * d; }
        for (; c < n; c++) total += (xr[c] - mu) * (xr[c] - mu);
        float r = 1.0f / sqrtf((total + F(phsum)(lanes)) / count + epsilon);
        mean[row] = mu;
        inverse[row] = r;
        for (c = 0; c + VW <= n; c += VW)
            F(pstore)(yr + c, (F(pload)(xr + c) - mu) * r * F(pload)(gamma + c) + F(pload)(beta + c));
        for (; c < n; c++) yr[c] = (xr[c] - mu) * r * gamma[c] + beta[c];
    }
}

// The layer-norm pullback for rows: per row the sums of ∂x̂ = γ·∂y and ∂x̂·x̂, then
// ∂x = r·(∂x̂ − mean(∂x̂) − x̂·mean(∂x̂·x̂)); ∂y·x̂ and ∂y are added to dgamma and dbeta.
TARGET void F(layer_norm_gradient_rows)(const float *dy, const float *x, float *dx, long rows, int n,
                                        const float *gamma, const float *mean, const float *inverse,
                                        float *dgamma, float *dbeta) {
    for (long row = 0; row < rows; row++) {
        const float *dyr = dy + row * n, *xr = x + row * n;
        float *dxr = dx + row * n;
        float mu = mean[row], r = inverse[row];
        PV sumLanes = F(psplat)(0), productLanes = F(psplat)(0);
        float sum = 0, product = 0;
        int c = 0;
        for (; c + VW <= n; c += VW) {
            PV g = F(pload)(dyr + c), xhat = (F(pload)(xr + c) - mu) * r;
            PV dxhat = g * F(pload)(gamma + c);
            sumLanes += dxhat;
            productLanes += dxhat * xhat;
            F(pstore)(dgamma + c, F(pload)(dgamma + c) + g * xhat);
            F(pstore)(dbeta + c, F(pload)(dbeta + c) + g);
        }
        for (; c < n; c++) {
            float xhat = (xr[c] - mu) * r, dxhat = dyr[c] * gamma[c];
            sum += dxhat;
            product += dxhat * xhat;
            dgamma[c] += dyr[c] * xhat;
            dbeta[c] += dyr[c];
        }
        float count = n > 0 ? (float)n : 1.0f;
        float m1 = (sum + F(phsum)(sumLanes)) / count, m2 = (product + F(phsum)(productLanes)) / count;
        for (c = 0; c + VW <= n; c += VW) {
            PV xhat = (F(pload)(xr + c) - mu) * r;
            PV dxhat = F(pload)(dyr + c) * F(pload)(gamma + c);
            F(pstore)(dxr + c, r * (dxhat - m1 - xhat * m2));
        }
        for (; c < n; c++) {
            float xhat = (xr[c] - mu) * r;
            dxr[c] = r * (dyr[c] * gamma[c] - m1 - xhat * m2);
        }
    }
}

// Channels-last loops of group norm over `pixels` rows of `channels` contiguous floats. The
// reductions keep blocks of up to four vectors of channel sums in registers while they walk the
// pixels, instead of loading and storing every sum at every pixel.
// mode 0: sums[c] += Σ x;  mode 1: sums[c] += Σ (x − mean[c])².
TARGET void F(channel_sums)(int mode, const float *x, long pixels, int channels, const float *mean, float *sums) {
    int c = 0;
    for (; c + VW <= channels;) {
        int width = channels - c >= 4 * VW ? 4 : 1;
        PV acc[4] = {F(psplat)(0), F(psplat)(0), F(psplat)(0), F(psplat)(0)}, mu[4];
        for (int v = 0; v < width; v++) mu[v] = mode ? F(pload)(mean + c + v * VW) : F(psplat)(0);
        for (long p = 0; p < pixels; p++) {
            const float *xr = x + p * channels + c;
            for (int v = 0; v < width; v++) {
                PV d = F(pload)(xr + v * VW) - mu[v];
                acc[v] += mode ? d * d : d;
            }
        }
        for (int v = 0; v < width; v++) F(pstore)(sums + c + v * VW, F(pload)(sums + c + v * VW) + acc[v]);
        c += width * VW;
    }
    for (; c < channels; c++) {
        float total = 0, mu = mode ? mean[c] : 0;
        for (long p = 0; p < pixels; p++) {
            float d = x[p * channels + c] - mu;
            total += mode ? d * d : d;
        }
        sums[c] += total;
    }
}

// y = x·a + b per channel (a and b per channel), or with dy: out = dy·a + x·slope + offset.
TARGET void F(channel_affine)(const float *dy, const float *x, float *out, long pixels, int channels,
                              const float *a, const float *slope, const float *offset) {
    for (long p = 0; p < pixels; p++) {
        const float *xr = x + p * channels;
        float *outr = out + p * channels;
        int c = 0;
        if (dy == 0) {
            for (; c + VW <= channels; c += VW)
                F(pstore)(outr + c, F(pload)(xr + c) * F(pload)(a + c) + F(pload)(offset + c));
            for (; c < channels; c++) outr[c] = xr[c] * a[c] + offset[c];
        } else {
            const float *dyr = dy + p * channels;
            for (; c + VW <= channels; c += VW)
                F(pstore)(outr + c, F(pload)(dyr + c) * F(pload)(a + c) + F(pload)(xr + c) * F(pload)(slope + c)
                                        + F(pload)(offset + c));
            for (; c < channels; c++) outr[c] = dyr[c] * a[c] + xr[c] * slope[c] + offset[c];
        }
    }
}

// sumDy[c] += Σ ∂y, sumDyX[c] += Σ ∂y·(x − mean[c]), in blocks of channels as channel_sums.
TARGET void F(channel_gradient_sums)(const float *dy, const float *x, long pixels, int channels,
                                     const float *mean, float *sumDy, float *sumDyX) {
    int c = 0;
    for (; c + VW <= channels;) {
        int width = channels - c >= 4 * VW ? 4 : 1;
        PV sd[4] = {F(psplat)(0), F(psplat)(0), F(psplat)(0), F(psplat)(0)}, sx[4] = {sd[0], sd[0], sd[0], sd[0]};
        PV mu[4];
        for (int v = 0; v < width; v++) mu[v] = F(pload)(mean + c + v * VW);
        for (long p = 0; p < pixels; p++) {
            const float *dyr = dy + p * channels + c, *xr = x + p * channels + c;
            for (int v = 0; v < width; v++) {
                PV g = F(pload)(dyr + v * VW);
                sd[v] += g;
                sx[v] += g * (F(pload)(xr + v * VW) - mu[v]);
            }
        }
        for (int v = 0; v < width; v++) {
            F(pstore)(sumDy + c + v * VW, F(pload)(sumDy + c + v * VW) + sd[v]);
            F(pstore)(sumDyX + c + v * VW, F(pload)(sumDyX + c + v * VW) + sx[v]);
        }
        c += width * VW;
    }
    for (; c < channels; c++) {
        float a = 0, b = 0;
        for (long p = 0; p < pixels; p++) {
            float g = dy[p * channels + c];
            a += g;
            b += g * (x[p * channels + c] - mean[c]);
        }
        sumDy[c] += a;
        sumDyX[c] += b;
    }
}

#undef PV
#undef PM
#undef PINLINE
