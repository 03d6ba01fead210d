namespace Tora.Inference.Sampling;

/// <summary>
/// The noise schedule, timesteps and per-step coefficients of diffusers' <c>CogVideoXDPMScheduler</c> for one
/// step count (docs/model.md §5.1–5.2): float64 alpha products (scaled-linear betas, SNR shift, zero terminal
/// SNR), diffusers' timestep spacing, and the stochastic DPM-Solver++(2M) multipliers of every step.
/// Immutable; the per-generation state lives in <see cref="DpmSolverStepper"/>.
/// </summary>
public sealed class CogVideoXDpmScheduler
{
    private readonly double[] _alphasCumprod;
    private readonly int[] _timesteps;
    private readonly DpmStepCoefficients[] _steps;

    /// <summary>Builds the schedule for <paramref name="numInferenceSteps"/> denoising steps.</summary>
    public CogVideoXDpmScheduler(CogVideoXSchedulerConfig config, int numInferenceSteps)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (numInferenceSteps < 1 || numInferenceSteps > config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(numInferenceSteps), numInferenceSteps,
                $"the number of steps must lie in 1..{config.NumTrainTimesteps}");
        Config = config;
        NumInferenceSteps = numInferenceSteps;
        _alphasCumprod = ComputeAlphasCumprod(config);
        FinalAlphaCumprod = config.SetAlphaToOne ? 1.0 : _alphasCumprod[0];
        _timesteps = ComputeTimesteps(config, numInferenceSteps);
        _steps = new DpmStepCoefficients[_timesteps.Length];
        for (var i = 0; i < _steps.Length; i++) _steps[i] = ComputeStep(i);
    }

    /// <summary>The configuration.</summary>
    public CogVideoXSchedulerConfig Config { get; }

    /// <summary>Number of denoising steps.</summary>
    public int NumInferenceSteps { get; }

    /// <summary><c>ᾱ</c> for every training timestep (float64, after SNR shift and zero-SNR rescaling).</summary>
    public ReadOnlySpan<double> AlphasCumprod => _alphasCumprod;

    /// <summary><c>ᾱ</c> used before timestep 0 (1 with <c>set_alpha_to_one</c>).</summary>
    public double FinalAlphaCumprod { get; }

    /// <summary>The timesteps, descending (999, 979, …, 19 for 50 trailing steps).</summary>
    public ReadOnlySpan<int> Timesteps => _timesteps;

    /// <summary>Coefficients of step <paramref name="index"/>.</summary>
    public DpmStepCoefficients Step(int index) => _steps[index];

    /// <summary>Noise draws of the whole loop (1 + 2·(steps − 2) + 1 for two or more steps).</summary>
    public int TotalNoiseDraws => _steps.Sum(s => s.NoiseDraws);

    private static double[] ComputeAlphasCumprod(CogVideoXSchedulerConfig c)
    {
        var n = c.NumTrainTimesteps;
        double[] betas;
        if (c.BetaSchedule == "scaled_linear")
        {
            betas = TorchLinspace(Math.Sqrt(c.BetaStart), Math.Sqrt(c.BetaEnd), n);
            for (var i = 0; i < n; i++) betas[i] *= betas[i];
        }
        else
        {
            // diffusers builds "linear" betas in float32.
            var f = TorchLinspace(c.BetaStart, c.BetaEnd, n);
            betas = f.Select(b => (double)(float)b).ToArray();
        }
        var abar = new double[n];
        var product = 1.0;
        for (var i = 0; i < n; i++)
        {
            product *= 1.0 - betas[i];
            abar[i] = product;
        }
        var s = c.SnrShiftScale;
        for (var i = 0; i < n; i++) abar[i] /= s + (1 - s) * abar[i];
        if (c.RescaleBetasZeroSnr)
        {
            // Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", algorithm 1.
            var sqrt = abar.Select(Math.Sqrt).ToArray();
            var a0 = sqrt[0];
            var aT = sqrt[^1];
            var scale = a0 / (a0 - aT);
            for (var i = 0; i < n; i++)
            {
                var r = (sqrt[i] - aT) * scale;
                abar[i] = r * r;
            }
        }
        return abar;
    }

    /// <summary>torch.linspace on the CPU: the first half counts up from start, the second down from end.</summary>
    private static double[] TorchLinspace(double start, double end, int steps)
    {
        var result = new double[steps];
        var step = (end - start) / (steps - 1);
        var halfway = steps / 2;
        for (var i = 0; i < steps; i++)
            result[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
        return result;
    }

    private static int[] ComputeTimesteps(CogVideoXSchedulerConfig c, int steps)
    {
        var n = c.NumTrainTimesteps;
        switch (c.TimestepSpacing)
        {
            case "trailing":
            {
                // np.round(np.arange(n, 0, -n / steps)) - 1, with numpy's arange arithmetic (length from the
                // given step, values start + i * (second - first)).
                var ratio = (double)n / steps;
                var length = (int)Math.Ceiling((0.0 - n) / -ratio);
                var delta = (n + -ratio) - n;
                if (length != steps)
                    throw new ArgumentOutOfRangeException(nameof(steps), steps,
                        $"diffusers' trailing spacing gives {length} timesteps for {steps} steps (a float round-off in numpy.arange); choose another step count");
                var t = new int[length];
                for (var i = 0; i < length; i++) t[i] = (int)Math.Round(n + i * delta, MidpointRounding.ToEven) - 1;
                return t;
            }
            case "leading":
            {
                var ratio = n / steps;
                var t = new int[steps];
                for (var i = 0; i < steps; i++) t[i] = (steps - 1 - i) * ratio + c.StepsOffset;
                return t;
            }
            default:
            {
                // np.linspace(0, n - 1, steps).round()[::-1]
                var t = new int[steps];
                var step = steps > 1 ? (n - 1.0) / (steps - 1) : 0.0;
                for (var i = 0; i < steps; i++)
                {
                    var v = i == steps - 1 && steps > 1 ? n - 1.0 : i * step;
                    t[steps - 1 - i] = (int)Math.Round(v, MidpointRounding.ToEven);
                }
                return t;
            }
        }
    }

    private DpmStepCoefficients ComputeStep(int i)
    {
        var t = _timesteps[i];
        if (t < 0 || t >= _alphasCumprod.Length)
            throw new InvalidOperationException($"timestep {t} lies outside the schedule");
        var prev = t - Config.NumTrainTimesteps / NumInferenceSteps;
        int? back = i > 0 ? _timesteps[i - 1] : null;
        var a = _alphasCumprod[t];
        var aPrev = prev >= 0 ? _alphasCumprod[prev] : FinalAlphaCumprod;
        double? aBack = back is { } b ? _alphasCumprod[b] : null;

        var lambda = Lambda(a);
        var lambdaNext = Lambda(aPrev);
        var h = lambdaNext - lambda;
        double? r = aBack is { } ab ? (lambda - Lambda(ab)) / h : null;
        var mult1 = Math.Sqrt((1 - aPrev) / (1 - a)) * Math.Exp(-h);
        var mult2 = ExactMath.Expm1(-2 * h) * Math.Sqrt(aPrev);
        double? mult3 = r is { } rr ? 1 + 1 / (2 * rr) : null;
        double? mult4 = r is { } r2 ? 1 / (2 * r2) : null;
        var multNoise = Math.Sqrt(1 - aPrev) * Math.Sqrt(1 - Math.Exp(-2 * h));
        // diffusers: first order at step 0 (no previous prediction) and when t_prev < 0 (the last step).
        var secondOrder = back is not null && prev >= 0;
        return new DpmStepCoefficients(i, t, prev, back, a, aPrev, aBack, lambda, lambdaNext, h, r,
            mult1, mult2, mult3, mult4, multNoise, secondOrder);
    }

    /// <summary><c>ln √(ᾱ / (1 − ᾱ))</c>: −∞ at ᾱ = 0, +∞ at ᾱ = 1.</summary>
    private static double Lambda(double alphaProd) => Math.Log(Math.Sqrt(alphaProd / (1 - alphaProd)));
}
