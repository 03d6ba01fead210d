namespace Tora.Inference.Embeddings;

/// <summary>
/// The sinusoidal timestep embedding of diffusers (<c>get_timestep_embedding</c>) as CogVideoX configures it
/// (<c>flip_sin_to_cos=True</c>, <c>downscale_freq_shift=0</c>, max period 10000): <c>[cos(t·f_k), sin(t·f_k)]</c>
/// with <c>f_k = exp(−ln(10000)·k / (half − shift))</c>, each operation in float32 as torch runs it.
/// </summary>
public static class TimestepEmbedding
{
    /// <summary>Fills <paramref name="destination"/> (its length is the embedding dimension) for <paramref name="timestep"/>.</summary>
    public static void Compute(double timestep, Span<float> destination, bool flipSinToCos = true, double downscaleFreqShift = 0,
        double maxPeriod = 10000)
    {
        var dim = destination.Length;
        if (dim < 2) throw new ArgumentException("the embedding dimension must be at least 2", nameof(destination));
        var half = dim / 2;
        var logPeriod = (float)-Math.Log(maxPeriod);
        var divisor = (float)(half - downscaleFreqShift);
        var t = (float)timestep;
        for (var k = 0; k < half; k++)
        {
            var exponent = logPeriod * k / divisor;
            var frequency = (float)Math.Exp(exponent);
            var angle = t * frequency;
            var sin = (float)Math.Sin(angle);
            var cos = (float)Math.Cos(angle);
            destination[flipSinToCos ? k : half + k] = cos;
            destination[flipSinToCos ? half + k : k] = sin;
        }
        if (dim % 2 == 1) destination[^1] = 0f; // diffusers zero-pads an odd dimension
    }
}
