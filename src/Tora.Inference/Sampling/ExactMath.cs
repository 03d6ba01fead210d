namespace Tora.Inference.Sampling;

/// <summary>Double-precision helpers the scheduler needs and .NET lacks, with IEEE infinities kept.</summary>
public static class ExactMath
{
    /// <summary>
    /// <c>exp(x) − 1</c> without cancellation near 0 (torch's <c>expm1</c>, docs/model.md §5.2): Kahan's
    /// <c>(u − 1)·x / log(u)</c> with <c>u = exp(x)</c>, exact at ±∞ (−∞ → −1, +∞ → +∞) and NaN → NaN.
    /// </summary>
    public static double Expm1(double x)
    {
        if (double.IsNaN(x)) return x;
        if (double.IsPositiveInfinity(x)) return double.PositiveInfinity;
        if (Math.Abs(x) < 1e-5)
            return x + x * x / 2 + x * x * x / 6; // truncation error x⁴/24: below 4e-17 relative, under half an ulp
        var u = Math.Exp(x);
        if (u == 1.0) return x;
        var um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        if (double.IsPositiveInfinity(u)) return double.PositiveInfinity;
        return um1 * x / Math.Log(u);
    }
}
