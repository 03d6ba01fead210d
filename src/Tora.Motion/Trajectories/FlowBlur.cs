namespace Tora.Motion.Trajectories;

/// <summary>
/// The original's 99 × 99 Gaussian (sigma 10) divided by its centre value, i.e. <c>K(dy, dx) = g(dy)·g(dx)</c> with
/// <c>g(d) = exp(−d²/200)</c> and peak 1 (docs/model.md §2.2), applied as an exact separable correlation with
/// OpenCV's default <c>BORDER_REFLECT_101</c>. Instead of convolving whole frames, it gives the 1-D weights with
/// which one source pixel spreads along an axis, mirrored images at the borders included.
/// </summary>
public static class FlowBlur
{
    /// <summary>Kernel radius: taps −49..49.</summary>
    public const int Radius = 49;

    /// <summary>Kernel size, 99.</summary>
    public const int Size = 2 * Radius + 1;

    /// <summary>Sigma of the Gaussian, 10.</summary>
    public const double Sigma = 10;

    private static readonly double[] Taps = MakeTaps();

    /// <summary>The 1-D kernel <c>g(d)</c> for <c>d = −49..49</c> (index <c>d + 49</c>); <c>g(0) = 1</c>.</summary>
    public static ReadOnlySpan<double> Kernel => Taps;

    /// <summary>
    /// The range of output positions reached by a source at <paramref name="center"/> on an axis of
    /// <paramref name="length"/> pixels: within 49 px, or the whole axis when it is shorter than 50 px (where
    /// the reflections can fold more than once).
    /// </summary>
    public static (int Start, int Count) Support(int center, int length)
    {
        if (length <= Radius) return (0, length);
        var lo = Math.Max(0, center - Radius);
        var hi = Math.Min(length - 1, center + Radius);
        return (lo, hi - lo + 1);
    }

    /// <summary>
    /// Writes the weight of a unit source at <paramref name="center"/> for every output position
    /// <c>start + i</c> of <paramref name="weights"/>: <c>Σ g(d)</c> over the taps <c>d</c> whose reflected input
    /// position <c>reflect101(pos + d)</c> is the source.
    /// </summary>
    public static void Weights(int center, int length, int start, Span<double> weights)
    {
        if (length > Radius)
        {
            // At most one reflection per side: pos + d = c, or = −c (left mirror), or = 2(L−1) − c (right mirror).
            var right = 2 * (length - 1) - center;
            for (var i = 0; i < weights.Length; i++)
            {
                var pos = start + i;
                var w = Tap(pos - center);
                if (center > 0) w += Tap(pos + center);
                if (center < length - 1) w += Tap(right - pos);
                weights[i] = w;
            }
            return;
        }
        for (var i = 0; i < weights.Length; i++)
        {
            var pos = start + i;
            double w = 0;
            for (var d = -Radius; d <= Radius; d++)
            {
                if (Reflect101(pos + d, length) == center) w += Taps[d + Radius];
            }
            weights[i] = w;
        }
    }

    /// <summary>OpenCV's <c>BORDER_REFLECT_101</c> index mapping (mirror without repeating the edge pixel).</summary>
    public static int Reflect101(int p, int length)
    {
        if (length == 1) return 0;
        while (p < 0 || p >= length)
        {
            p = p < 0 ? -p : 2 * (length - 1) - p;
        }
        return p;
    }

    private static double Tap(int d) => d is >= -Radius and <= Radius ? Taps[d + Radius] : 0;

    private static double[] MakeTaps()
    {
        var t = new double[Size];
        for (var d = -Radius; d <= Radius; d++) t[d + Radius] = Math.Exp(-(double)(d * d) / (2 * Sigma * Sigma));
        return t;
    }
}
